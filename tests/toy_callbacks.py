"""Callbacks that exist only to put a fold job in a known state for a test."""

import os
import time
from pathlib import Path

import pytorch_lightning as pl


def slurm_job() -> str:
    """This process's SLURM job (`ARRAY_TASK` for a task of a job array), "" outside SLURM."""
    if "SLURM_ARRAY_JOB_ID" in os.environ:
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID", "")


class StallOn(pl.Callback):
    """Holds the fold of each listed test subject at the start of fitting, as a hung fold would, after writing its
    SLURM job id (`ARRAY_TASK` for a task of a job array) to `marker_dir/SUBJECT`, so that the test can cancel that
    job or cut its time limit."""

    def __init__(self, subjects: list[str], marker_dir: str, seconds: float = 600) -> None:
        self.subjects = set(subjects)
        self.marker_dir = Path(marker_dir)
        self.seconds = seconds

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        stalled = self.subjects & {clip.source_subject for clip in trainer.datamodule.split.test}
        for subject in stalled:
            (self.marker_dir / f".{subject}").write_text(slurm_job())
            (self.marker_dir / f".{subject}").rename(self.marker_dir / subject)
        if stalled:
            time.sleep(self.seconds)


class HoldOnceAt(pl.Callback):
    """Holds the fold of each listed test subject at the start of training epoch `epoch`, once: it writes
    `marker_dir/SUBJECT` (whole, by a rename; it holds the SLURM job id under SLURM, `ARRAY_TASK` for a task of a job
    array, else the process id) and waits there until the test stops the process or writes `marker_dir/SUBJECT.go`.
    The fold's last.ckpt then holds epoch `epoch - 1`, whatever the machine's load. Run again
    (the marker is there), the fold goes on."""

    def __init__(self, subjects: list[str], epoch: int, marker_dir: str, seconds: float = 600) -> None:
        self.subjects = set(subjects)
        self.epoch = epoch
        self.marker_dir = Path(marker_dir)
        self.seconds = seconds

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch != self.epoch:
            return
        for subject in self.subjects & {clip.source_subject for clip in trainer.datamodule.split.test}:
            if (self.marker_dir / subject).exists():
                continue
            self.marker_dir.mkdir(parents=True, exist_ok=True)
            (self.marker_dir / f".{subject}").write_text(slurm_job() or str(os.getpid()))
            (self.marker_dir / f".{subject}").rename(self.marker_dir / subject)
            deadline = time.monotonic() + self.seconds
            while not (self.marker_dir / f"{subject}.go").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
