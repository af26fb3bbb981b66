"""LOSO speed, timed as a user meets it: whole fresh processes, alternated, several runs, medians and spreads.

Three programs train the same LOSO folds of the MEGC 2019 composite flow set with STSTNet's recipe (Adam 5e-5, batch
256), each as its own process started from nothing:
  sweep       `mer-train -m experiment=ststnet_megc2019 protocol.test_subject=... trainer.max_epochs=E`
  vectorized  the same with `hydra/launcher=vectorized hydra.launcher.group_size=<folds>` (the folds side by side)
  plain loop  this script's `--plain-loop`: the images read into tensors, shuffled batches, Adam, the test subject
              predicted; nothing else (no config, no store)
Each round runs every program at both epoch counts, in an order that rotates from round to round, so that all see
the same load. Per program: wall and CPU (user + system) seconds, median [min-max], and peak memory; from the two
epoch counts, the cost of one fold-epoch and the fixed cost per fold (start-up, data, recording, summary); last,
each program's ratio to the plain loop. The machine's load average is printed before and after: on a shared machine
read the CPU figures first.

    python benchmarks/bench_loso.py [--folds 4] [--epochs 20 100] [--runs 3] [--threads N]

`--threads N` gives every program N torch threads (`threads=N` for mer-train, OMP_NUM_THREADS for all): 1 on a
machine shared with others.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBJECTS = ["casme2/sub02", "samm/011", "smic/s03", "smic/s20", "casme2/sub11", "samm/026", "smic/s04", "casme2/sub17"]


def data_root() -> Path:
    return Path(os.environ.get("MER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / (
        "megc2019-ststnet-flow"
    )


def plain_loop(subjects: list[str], epochs: int, threads: int | None) -> None:
    """The recipe as a bare PyTorch loop (the reference the framework is held to)."""
    import cv2
    import numpy as np
    import pandas as pd
    import torch
    from torch.nn import functional as F

    from mer_lightning.models import STSTNet

    if threads:
        torch.set_num_threads(threads)
    root = data_root()
    table = pd.read_csv(root / "labels.csv")
    images = np.stack([cv2.imread(str(root / p)) for p in table["image"]]).transpose(0, 3, 1, 2)
    x, y = torch.tensor(images, dtype=torch.float32), torch.tensor(table["label"].to_numpy())
    subject = (table["dataset"] + "/" + table["subject"]).to_numpy()
    for test_subject in subjects:
        train = torch.from_numpy(subject != test_subject)
        train_x, train_y = x[train], y[train]
        torch.manual_seed(0)
        net = STSTNet()
        optimizer = torch.optim.Adam(net.parameters(), lr=5e-5)
        net.train()
        for _ in range(epochs):
            for batch in torch.randperm(len(train_y)).split(256):
                optimizer.zero_grad()
                F.cross_entropy(net(train_x[batch]), train_y[batch]).backward()
                optimizer.step()
        with torch.no_grad():
            net.eval()
            print(test_subject, (net(x[~train]).argmax(1) == y[~train]).float().mean().item())


def commands(subjects: list[str], epochs: int, threads: int | None) -> dict[str, list[str]]:
    sweep = [
        sys.executable,
        "-m",
        "mer_lightning.train",
        "-m",
        "experiment=ststnet_megc2019",
        f"protocol.test_subject={','.join(subjects)}",
        f"trainer.max_epochs={epochs}",
        *([f"threads={threads}"] if threads else []),
        # every round trains: the same command in the same root would otherwise resume the sweep it ran before, whose
        # folds all finished, and run none
        "hydra.sweeper.resume=false",
    ]
    return {
        "sweep": sweep,
        "vectorized": [*sweep, "hydra/launcher=vectorized", f"hydra.launcher.group_size={len(subjects)}"],
        "plain loop": [
            sys.executable,
            __file__,
            "--plain-loop",
            "--folds",
            str(len(subjects)),
            "--epochs",
            str(epochs),
            *(["--threads", str(threads)] if threads else []),
        ],
    }


def timed(command: list[str], env: dict[str, str], folds: int | None = None) -> dict[str, float]:
    """Wall and CPU seconds and peak memory (MB, the process and its children's largest) of one whole process; with
    `folds`, a sweep that did not train every one of them (a resumed one, say) is an error, not a fast run."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        output.seek(0)
        text = output.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{text[-3000:]}")
    if folds is not None and f"fold {folds}/{folds} done" not in text:
        raise RuntimeError(f"{' '.join(command)} did not train its {folds} folds; it printed:\n{text[-3000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "memory": usage.ru_maxrss / 1024}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=4, help=f"test subjects, the first of {SUBJECTS}")
    parser.add_argument("--epochs", type=int, nargs="+", default=[20, 100], help="two epoch counts")
    parser.add_argument("--runs", type=int, default=3, help="rounds (each runs every program at every epoch count)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of every program (default: torch's)")
    parser.add_argument("--plain-loop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    subjects = SUBJECTS[: args.folds]
    if args.plain_loop:
        plain_loop(subjects, args.epochs[0], args.threads)
        return
    if not (data_root() / "labels.csv").exists():
        print(f"skipped: {data_root()} not found (set MER_SHARED_DATA to the folder holding megc2019-ststnet-flow)")
        return
    short, long = sorted(args.epochs)
    print(
        f"{len(subjects)} folds ({', '.join(subjects)}) x {short} and {long} epochs, {args.runs} rounds; "
        f"{os.cpu_count()} cores, {args.threads or 'default'} threads; "
        f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as directory:
        env = {
            **os.environ,
            "MER_ROOT": directory,
            "PYTHONWARNINGS": "ignore",
            **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}),
        }
        # Fills the input cache and creates the store, as a first run does.
        timed(commands(subjects, 1, args.threads)["sweep"], env)
        names = list(commands(subjects, short, args.threads))
        figures: dict[tuple[str, int], list[dict[str, float]]] = {(n, e): [] for n in names for e in (short, long)}
        for round_ in range(args.runs):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for epochs in (short, long):
                for name in order:
                    trained = None if name == "plain loop" else len(subjects)
                    figures[name, epochs].append(timed(commands(subjects, epochs, args.threads)[name], env, trained))
            print(f"round {round_ + 1} done; load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print(f"{'':12} {'epochs':>6} {'wall s, median [min-max]':>26} {'CPU s, median [min-max]':>26} {'peak MB':>8}")
    for (name, epochs), runs in figures.items():
        print(
            f"{name:12} {epochs:6d} {spread([r['wall'] for r in runs]):>26} {spread([r['cpu'] for r in runs]):>26} "
            f"{max(r['memory'] for r in runs):8.0f}"
        )
    folds = len(subjects)
    derived = {}
    for name in names:
        for measure in ("wall", "cpu"):
            at = {e: statistics.median(r[measure] for r in figures[name, e]) for e in (short, long)}
            per_epoch = (at[long] - at[short]) / ((long - short) * folds)
            derived[name, measure] = (per_epoch, (at[short] - short * folds * per_epoch) / folds, at[long])
    print(f"\n{'':12} {'per fold-epoch ms':>18} {'fixed s per fold':>17}   (wall | CPU)")
    for name in names:
        (we, wf, _), (ce, cf, _) = derived[name, "wall"], derived[name, "cpu"]
        noise = "  (noise: more epochs were not slower; give more epochs or runs)" if min(we, ce) <= 0 else ""
        print(f"{name:12} {we * 1000:8.1f} | {ce * 1000:7.1f} {wf:8.2f} | {cf:6.2f}{noise}")
    print(f"\nratio to the plain loop (wall | CPU): per fold-epoch, fixed cost, whole run at {long} epochs")
    for name in names[:2]:
        cells = []
        for index in range(3):
            cells.append(
                " | ".join(f"{derived[name, m][index] / derived['plain loop', m][index]:5.2f}" for m in ("wall", "cpu"))
            )
        print(f"{name:12} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14}")


if __name__ == "__main__":
    main()
