"""`mer-compare SWEEP_A SWEEP_B`: are two sweeps' pooled UF1 and UAR different, on the clips both tested?

Prints each sweep's pooled UF1/UAR with its 95% subject-level bootstrap interval, and their difference with its
paired bootstrap interval and a paired permutation test over subjects (`metrics.paired_test`), then records them as a
comparison run (`mer.run_type=comparison`) in the store.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from mer_lightning.reports import compare_predictions
from mer_lightning.summarize import reading_store, store_arguments
from mer_lightning.tracking import comparison_title


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_a")
    parser.add_argument("sweep_b")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap draws of the subjects")
    parser.add_argument(
        "--permutations", type=int, default=10000, help="random swaps when the subjects are too many to try every swap"
    )
    parser.add_argument("--seed", type=int, default=0)
    store_arguments(parser)
    args = parser.parse_args()
    with reading_store(args, "mer-compare", (LookupError, ValueError)) as tracker:
        (table_a, name_a), (table_b, name_b) = (tracker.pooled_predictions(s) for s in (args.sweep_a, args.sweep_b))
        comparison = compare_predictions(table_a, table_b, args.resamples, args.permutations, args.seed)
    print(comparison.report(name_a, name_b))
    report = json.loads(
        json.dumps(
            {
                "a": {"sweep": args.sweep_a, "name": name_a},
                "b": {"sweep": args.sweep_b, "name": name_b},
                **asdict(comparison),
            }
        )
    )
    run_id = tracker.record_comparison(
        args.sweep_a,
        args.sweep_b,
        comparison_title(name_a, name_b, args.sweep_a, args.sweep_b),
        comparison.figures(),
        report,
    )
    print(f"comparison run: {run_id} (experiment {tracker.experiment_id})")


if __name__ == "__main__":
    main()
