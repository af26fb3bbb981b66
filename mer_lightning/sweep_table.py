"""`mer-table MULTIRUN_ID` (or SWEEP_ID ...): the pooled UF1/UAR of several sweeps side by side, one row each.

A multirun over a setting (`mer-train -m experiment=aouayeb preprocessing.steps.regions.names=[mouth],[nose]`) is
one sweep per value, each with its own summary run; the folds sweeper tags them all with the multirun's id
(`mer.multirun`, the shared front of their sweep ids) and prints this table when they are done. Each row is labelled
by the overrides that set its sweep apart from the others; the figures are those of its summary run (pooled over
its folds).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import pandas as pd

from mer_lightning.reports import comparison_table
from mer_lightning.summarize import reading_store, store_arguments
from mer_lightning.tracking import Tracker


def comparison(tracker: Tracker, ids: Sequence[str]) -> pd.DataFrame:
    """The table of the sweeps named: each id is a multirun (all its sweeps) or one sweep."""
    sweeps = [sweep for ident in ids for sweep in (tracker.multirun_sweeps(ident) or [ident])]
    figures, overrides = {}, {}
    for sweep in sweeps:
        figures[sweep], overrides[sweep] = tracker.summary_figures(sweep)
    return comparison_table(figures, overrides)


def print_comparison(tracker: Tracker, ids: Sequence[str]) -> None:
    table = comparison(tracker, ids)
    print(f"\n=== {' '.join(ids)}: pooled over each sweep's folds ===")
    print(table.reset_index().to_string(index=False, float_format=lambda value: f"{value:.4f}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ids", nargs="+", metavar="MULTIRUN_OR_SWEEP_ID")
    store_arguments(parser)
    args = parser.parse_args()
    with reading_store(args, "mer-table") as tracker:
        print_comparison(tracker, args.ids)


if __name__ == "__main__":
    main()
