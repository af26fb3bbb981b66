"""Callbacks that exist only to put a fold job in a known state for a test."""

import os
import time
from pathlib import Path

import pytorch_lightning as pl


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
            job = os.environ.get("SLURM_JOB_ID", "")
            if "SLURM_ARRAY_JOB_ID" in os.environ:
                job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
            (self.marker_dir / f".{subject}").write_text(job)
            (self.marker_dir / f".{subject}").rename(self.marker_dir / subject)
        if stalled:
            time.sleep(self.seconds)
