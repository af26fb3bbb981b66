"""`mer-summarize SWEEP_ID`: rebuild a sweep's summary run from its fold runs and print it."""

from __future__ import annotations

import argparse
import sys

from mer_lightning import console, store, ui
from mer_lightning.reports import Summary
from mer_lightning.tracking import Tracker


def print_summary(tracker: Tracker, sweep_id: str, summary: Summary) -> None:
    print(f"\n=== sweep {sweep_id} ===")
    print(summary.report())
    print(
        f"\nsummary run: {summary.run_id} (experiment {tracker.experiment_id}); {tracker.describe()}\n"
        f"browse it with `make ui` (mer-ui): {ui.page(tracker.experiment_id, summary.run_id)}"
    )


def store_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every store-reading command shares (the store is found as everywhere: mer_lightning/store.py)."""
    parser.add_argument("--tracking-uri", default=None,
                        help="the MLflow store (default: $MER_TRACKING_URI, else $MER_ROOT/mlruns/mlflow.db, "
                             "MER_ROOT defaulting to this folder)")
    parser.add_argument("--experiment", default=store.EXPERIMENT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweep_id")
    store_arguments(parser)
    args = parser.parse_args()
    console.quiet()
    try:
        tracker = Tracker(args.tracking_uri, args.experiment, create=False)
        print(tracker.describe())
        print_summary(tracker, args.sweep_id, tracker.summarize(args.sweep_id))
    except LookupError as error:
        sys.exit(f"mer-summarize: {error}")


if __name__ == "__main__":
    main()
