"""CPU training throughput and complexity of LEARNet and the paper's baselines at 112x112x3 dynamic-image input.

Throughput is clips per second through forward, cross-entropy and backward (no optimiser step) at batch 32, timed
after a few warm-up steps. Run: `.venv/bin/python benchmarks/bench_models.py [--steps N --warmup N --threads N]`.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from mer_lightning.models.baselines import BASELINES, create_baseline
from mer_lightning.models.complexity import complexity_table, format_complexity_table
from mer_lightning.models.learnet import LEARNet

INPUT_SHAPE = (3, 112, 112)
NUM_CLASSES = 3


def build_models() -> dict[str, nn.Module]:
    models: dict[str, nn.Module] = {
        "LEARNet": LEARNet(num_classes=NUM_CLASSES),
        "LEARNet (Conv-5 padded)": LEARNet(num_classes=NUM_CLASSES, conv5_padding=1),
    }
    models.update({name: create_baseline(name, INPUT_SHAPE[0], NUM_CLASSES) for name in BASELINES})
    return models


def train_throughput(model: nn.Module, batch_size: int, warmup: int, steps: int) -> float:
    """Clips per second of forward + loss + backward, timed over `steps` steps after `warmup` untimed ones."""
    x = torch.randn(batch_size, *INPUT_SHAPE)
    y = torch.randint(0, NUM_CLASSES, (batch_size,))
    model.train()

    def step() -> None:
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch_size * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    models = build_models()
    print(
        f"CPU training throughput: batch {args.batch_size}, input {INPUT_SHAPE}, {args.warmup} warm-up + "
        f"{args.steps} timed steps, {torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    width = max(len(name) for name in models)
    print(f"{'model'.ljust(width)}  {'clips/s':>8}  {'s/step':>7}")
    for name, model in models.items():
        clips_per_s = train_throughput(model, args.batch_size, args.warmup, args.steps)
        print(f"{name.ljust(width)}  {clips_per_s:8.1f}  {args.batch_size / clips_per_s:7.3f}", flush=True)

    print(f"\nComplexity at {INPUT_SHAPE}, {NUM_CLASSES} classes (layers: convolution + linear layers)")
    print(format_complexity_table(complexity_table(models, INPUT_SHAPE)))


if __name__ == "__main__":
    main()
