"""LOSO speed: the framework's fixed cost per fold and its cost per epoch against a plain PyTorch loop.

On 8 fixed test subjects of the MEGC 2019 composite flow set with STSTNet's recipe (Adam 5e-5, batch 256), it runs
the sweep as users do (`mer-train -m`, a Hydra multirun writing to MLflow) at two epoch counts, so that
per fold: time = fixed + epochs x per_epoch; then a plain loop (tensors in memory, Adam, nothing else) over the same
folds. Last, the same sweep with two folds at once (`hydra/launcher=joblib`, one thread each).

The sequential sweep and the plain loop use torch's default threads (every core).

    python benchmarks/bench_loso.py [--epochs 800] [--short-epochs 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from mlflow import MlflowClient
from torch.nn import functional as F

from mer_lightning.models import STSTNet

SUBJECTS = ["casme2/sub02", "casme2/sub11", "casme2/sub17", "samm/011", "samm/026", "smic/s03", "smic/s04", "smic/s20"]


def data_root() -> Path:
    root = Path(os.environ.get("MER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    return root / "megc2019-ststnet-flow"


def sweep(root: Path, epochs: int, extra: list[str]) -> tuple[float, pd.DataFrame]:
    """Wall time of one `mer-train -m` sweep, and each fold run's duration as MLflow recorded it."""
    env = {**os.environ, "MER_ROOT": str(root)}
    command = [sys.executable, "-m", "mer_lightning.train", "-m", "experiment=ststnet_megc2019",
               f"protocol.test_subject={','.join(SUBJECTS)}", f"trainer.max_epochs={epochs}", *extra]
    since_ms = time.time() * 1000
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    client = MlflowClient(f"sqlite:///{root}/mlruns/mlflow.db")
    runs = client.search_runs(
        [client.get_experiment_by_name("mer-lightning").experiment_id],
        filter_string=f"tags.`mer.run_type` = 'fold' and attributes.start_time >= {int(since_ms)}",
    )
    folds = pd.DataFrame({"fold": r.data.tags["mer.fold"], "seconds": (r.info.end_time - r.info.start_time) / 1000}
                         for r in runs if r.info.status == "FINISHED")
    if len(folds) != len(SUBJECTS):
        raise RuntimeError(f"{len(folds)} fold runs finished in the store, expected {len(SUBJECTS)}")
    return wall, folds


def plain_loop(epochs: int) -> float:
    """Seconds per epoch of the same recipe written as a bare PyTorch loop, averaged over the 8 folds."""
    root = data_root()
    table = pd.read_csv(root / "labels.csv")
    images = np.stack([cv2.imread(str(root / p)) for p in table["image"]]).transpose(0, 3, 1, 2)
    x, y = torch.tensor(images, dtype=torch.float32), torch.tensor(table["label"].to_numpy())
    subject = (table["dataset"] + "/" + table["subject"]).to_numpy()
    seconds = []
    for test_subject in SUBJECTS:
        train = torch.from_numpy(subject != test_subject)
        train_x, train_y = x[train], y[train]
        torch.manual_seed(0)
        net = STSTNet()
        optimizer = torch.optim.Adam(net.parameters(), lr=5e-5)
        start = time.perf_counter()
        for _ in range(epochs):
            net.train()
            for batch in torch.randperm(len(train_y)).split(256):
                optimizer.zero_grad()
                F.cross_entropy(net(train_x[batch]), train_y[batch]).backward()
                optimizer.step()
        seconds.append((time.perf_counter() - start) / epochs)
        with torch.no_grad():
            net.eval()
            net(x[~train]).argmax(1)
    return float(np.mean(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=800)
    parser.add_argument("--short-epochs", type=int, default=20)
    args = parser.parse_args()
    if not (data_root() / "labels.csv").exists():
        print(f"skipped: {data_root()} not found (set MER_SHARED_DATA to the folder holding megc2019-ststnet-flow)")
        return
    print(f"torch threads: {torch.get_num_threads()}, cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        sweep(root, 1, [])  # fills the input cache and creates the store, as a user's first run would
        short_wall, short = sweep(root, args.short_epochs, [])
        long_wall, long = sweep(root, args.epochs, [])
        per_epoch = (long["seconds"].mean() - short["seconds"].mean()) / (args.epochs - args.short_epochs)
        fixed_in_run = short["seconds"].mean() - args.short_epochs * per_epoch
        fixed_per_fold = (long_wall - args.epochs * per_epoch * len(SUBJECTS)) / len(SUBJECTS)
        plain = plain_loop(args.epochs)
        print(f"\n8 folds x {args.epochs} epochs, sequential (basic launcher): {long_wall:.1f} s wall")
        print(f"framework per epoch       {per_epoch * 1000:8.2f} ms")
        print(f"plain PyTorch per epoch   {plain * 1000:8.2f} ms")
        print(f"per-epoch cost ratio      {per_epoch / plain:8.3f} x   (goal <= 1.10)")
        print(f"fixed cost per fold       {fixed_per_fold:8.2f} s    (wall, incl. start-up and summary / 8; goal <= 3)")
        print(f"  of which inside the run {fixed_in_run:8.2f} s    (set-up, logging, recording)")
        joblib_wall, _ = sweep(root, args.epochs, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "threads=1"])
        print(f"two folds at once (joblib, 1 thread each): {joblib_wall:.1f} s wall vs {long_wall:.1f} s sequential "
              f"-> {'joblib' if joblib_wall < long_wall else 'sequential'} is faster on this machine")


if __name__ == "__main__":
    main()
