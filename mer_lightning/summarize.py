"""`mer-summarize SWEEP_ID`: rebuild a sweep's summary run from its fold runs and print it."""

from __future__ import annotations

import argparse

from mer_lightning.reports import Summary
from mer_lightning.tracking import Tracker

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"


def print_summary(tracker: Tracker, sweep_id: str, summary: Summary) -> None:
    print(f"\n=== sweep {sweep_id} ===")
    print(summary.report())
    print(
        f"\nsummary run: {summary.run_id} (experiment {tracker.experiment_id}, store {tracker.tracking_uri}); "
        f"browse with `make ui`: http://127.0.0.1:5000/#/experiments/{tracker.experiment_id}/runs/{summary.run_id}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweep_id")
    parser.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI)
    parser.add_argument("--experiment", default="mer-lightning")
    args = parser.parse_args()
    tracker = Tracker(args.tracking_uri, args.experiment)
    print_summary(tracker, args.sweep_id, tracker.summarize(args.sweep_id))


if __name__ == "__main__":
    main()
