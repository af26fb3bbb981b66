"""`mer-summarize SWEEP_ID`: rebuild a sweep's summary run from its fold runs and print it.

The runs of the sweep left RUNNING by processes that are gone (killed by SIGKILL, on this host) are closed KILLED
first; when the process that ran the sweep is gone too, the summary run is closed: FINISHED when every fold finished,
otherwise FAILED and tagged incomplete. A report of an incomplete sweep starts with "INCOMPLETE: k of n folds", and
the command then exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

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
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="the MLflow store (default: $MER_TRACKING_URI, else $MER_ROOT/mlruns/mlflow.db, "
        "MER_ROOT defaulting to this folder)",
    )
    parser.add_argument("--experiment", default=store.EXPERIMENT)


@contextmanager
def reading_store(
    args: argparse.Namespace, command: str, errors: tuple[type[Exception], ...] = (LookupError,)
) -> Iterator[Tracker]:
    """The store a reading command was given (`store_arguments`) or finds, said on the console; an unknown store or
    sweep, or one of `errors`, ends the command with one line naming it (no traceback)."""
    console.quiet()
    try:
        tracker = Tracker(args.tracking_uri, args.experiment, create=False)
        print(tracker.describe())
        yield tracker
    except errors as error:
        sys.exit(f"{command}: {error}")


def summarize_sweep(tracker: Tracker, sweep_id: str) -> Summary:
    """Closes the sweep's stale runs, then rebuilds its summary (closing it when the sweep's process is gone)."""
    closed = tracker.close_stale(sweep_id)
    if closed:
        print(f"closed {len(closed)} run(s) left RUNNING by a process that is gone: {', '.join(closed)}")
    status, running = tracker.sweep_state(sweep_id)
    if status == "RUNNING" and running is not False:
        print(
            f"sweep {sweep_id} is still running{'' if running else ' (or ran on another host)'}: its summary "
            "run stays open"
        )
    return tracker.summarize(sweep_id, close=status != "RUNNING" or running is False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_id")
    store_arguments(parser)
    args = parser.parse_args()
    with reading_store(args, "mer-summarize") as tracker:
        summary = summarize_sweep(tracker, args.sweep_id)
    print_summary(tracker, args.sweep_id, summary)
    sys.exit(0 if summary.complete else 1)


if __name__ == "__main__":
    main()
