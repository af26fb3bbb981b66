"""CPU training throughput, complexity and LOSO wall time of LEARNet and the paper's baselines at 112x112x3 input.

Throughput is clips per second through forward, cross-entropy and backward (no optimiser step), timed over at least
`--min-seconds` after warm-up steps. LEARNet's LOSO wall time on the MEGC 2019 composite set (68 folds, 442 clips) is
read from the newest finished `experiment=learnet_megc2019_flow` sweep of an MLflow store (`--mlruns`, default
`$MER_ROOT/mlruns`, else ./mlruns), i.e. measured; a LOSO of the baselines, too slow for a CPU, is extrapolated from
that run and the throughputs, and labelled so. Without such a run, LEARNet's figure is extrapolated the same way.

    .venv/bin/python benchmarks/bench_models.py [--batch-size 64 --min-seconds 3 --threads 1 --mlruns DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from mlflow import MlflowClient
from torch import nn

from mer_lightning.models.baselines import BASELINES, create_baseline
from mer_lightning.models.complexity import complexity_table, format_complexity_table
from mer_lightning.models.learnet import LEARNet

INPUT_SHAPE = (3, 112, 112)
NUM_CLASSES = 3
# The composite set: 442 clips over 68 subjects, so one epoch of every LOSO fold passes 67/68 of them 68 times.
COMPOSITE_CLIPS, COMPOSITE_FOLDS = 442, 68
TRAIN_CLIPS_PER_EPOCH_OVER_ALL_FOLDS = COMPOSITE_CLIPS * (COMPOSITE_FOLDS - 1)


def build_models() -> dict[str, nn.Module]:
    models: dict[str, nn.Module] = {
        "LEARNet": LEARNet(num_classes=NUM_CLASSES),
        "LEARNet (Conv-5 padded)": LEARNet(num_classes=NUM_CLASSES, conv5_padding=1),
    }
    models.update({name: create_baseline(name, INPUT_SHAPE[0], NUM_CLASSES) for name in BASELINES})
    return models


def train_throughput(model: nn.Module, batch_size: int, warmup: int, min_seconds: float) -> float:
    """Clips per second of forward + loss + backward, timed over at least two steps and `min_seconds` seconds."""
    x = torch.randn(batch_size, *INPUT_SHAPE)
    y = torch.randint(0, NUM_CLASSES, (batch_size,))
    model.train()

    def step() -> None:
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()

    for _ in range(warmup):
        step()
    steps, start = 0, time.perf_counter()
    while steps < 2 or time.perf_counter() - start < min_seconds:
        step()
        steps += 1
    return batch_size * steps / (time.perf_counter() - start)


@dataclass
class LosoRun:
    """A finished LEARNet LOSO sweep on the composite set, as its MLflow summary run records it."""

    sweep_id: str
    seconds: float
    epochs: int
    folds: int
    uf1: float
    uar: float


def newest_learnet_composite_run(mlruns: Path) -> LosoRun | None:
    """The newest finished summary of a LEARNet sweep on megc2019_flow with every fold done, or None."""
    database = mlruns / "mlflow.db"
    if not database.exists():
        return None
    client = MlflowClient(f"sqlite:///{database}")
    experiment = client.get_experiment_by_name("mer-lightning")
    if experiment is None:
        return None
    summaries = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.`mer.run_type` = 'summary' and tags.`mer.model` = 'learnet' "
        "and tags.`mer.dataset` = 'megc2019_flow' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    for summary in summaries:
        if summary.data.metrics.get("n_folds_missing_or_failed", 1) != 0:
            continue
        sweep_id = summary.data.tags["mer.sweep_id"]
        folds = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`mer.sweep_id` = '{sweep_id}' and tags.`mer.run_type` = 'fold'",
            max_results=1000,
        )
        if not folds:
            continue
        return LosoRun(
            sweep_id=sweep_id,
            seconds=(summary.info.end_time - summary.info.start_time) / 1000,
            epochs=int(folds[0].data.params["trainer.max_epochs"]),
            folds=len(folds),
            uf1=summary.data.metrics["uf1"],
            uar=summary.data.metrics["uar"],
        )
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=1, help="1, as each fold of a sweep beside others runs")
    parser.add_argument("--mlruns", type=Path, default=Path(os.environ.get("MER_ROOT", ".")) / "mlruns")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs for the extrapolated LOSO (default: those of the measured run, else 10)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    models = build_models()
    print(
        f"CPU training throughput (forward + backward): batch {args.batch_size}, input {INPUT_SHAPE}, "
        f">= {args.min_seconds:g} s timed after {args.warmup} warm-up step(s), {torch.get_num_threads()} thread(s), "
        f"torch {torch.__version__}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    width = max(len(name) for name in models)
    print(f"{'model'.ljust(width)}  {'clips/s':>8}  {'s/step':>7}")
    throughput: dict[str, float] = {}
    for name, model in models.items():
        throughput[name] = train_throughput(model, args.batch_size, args.warmup, args.min_seconds)
        print(f"{name.ljust(width)}  {throughput[name]:8.1f}  {args.batch_size / throughput[name]:7.3f}", flush=True)

    print(f"\nComplexity at {INPUT_SHAPE}, {NUM_CLASSES} classes (the paper's Table X; layers: convolution + linear)")
    print(format_complexity_table(complexity_table(models, INPUT_SHAPE)))

    run = newest_learnet_composite_run(args.mlruns)
    epochs = args.epochs or (run.epochs if run else 10)
    print(
        f"\nLOSO wall time on the MEGC 2019 composite set ({COMPOSITE_FOLDS} folds, {COMPOSITE_CLIPS} clips), "
        f"{epochs} epochs, folds one after another"
    )
    # Training compute of one sweep at a model's throughput; what the measured run spent beyond LEARNet's compute
    # (start-up, data, testing, logging) is taken as the same for every model.
    compute = {name: epochs * TRAIN_CLIPS_PER_EPOCH_OVER_ALL_FOLDS / rate for name, rate in throughput.items()}
    if run:
        # At the run's own epochs, which `--epochs` may differ from.
        overhead = max(0.0, run.seconds - run.epochs * TRAIN_CLIPS_PER_EPOCH_OVER_ALL_FOLDS / throughput["LEARNet"])
        print(
            f"{'LEARNet'.ljust(width)}  {run.seconds / 60:8.1f} min  measured: sweep {run.sweep_id} "
            f"({run.folds} folds, "
            f"{run.epochs} epochs; UF1 {run.uf1:.4f}, UAR {run.uar:.4f}) in {args.mlruns}"
        )
    else:
        overhead = 0.0
        print(
            f"(no finished learnet_megc2019_flow sweep in {args.mlruns}: run `MER_SHARED_DATA=... mer-train -m "
            "experiment=learnet_megc2019_flow threads=1` to measure it)"
        )
    for name in models:
        if run and name == "LEARNet" and epochs == run.epochs:
            continue
        print(
            f"{name.ljust(width)}  {(compute[name] + overhead) / 60:8.1f} min  EXTRAPOLATED: {epochs} x "
            f"{TRAIN_CLIPS_PER_EPOCH_OVER_ALL_FOLDS} clips / {throughput[name]:.1f} clips/s"
            + (f" + the measured run's {overhead / 60:.1f} min outside training" if run else " (training only)")
        )


if __name__ == "__main__":
    main()
