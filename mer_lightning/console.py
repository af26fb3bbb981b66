"""What a person sees on the console: a line per step, progress with time left, and none of the libraries' noise.

`quiet()` silences, at their source, the messages the libraries print in every fold that say nothing about this run
(Lightning's device lines, its litlogger tip and `srun` hint, MLflow's database set-up lines, a deprecation warning
inside Lightning, MLflow's artifact-download bars); every entry point calls it first. Progress bars (Lightning's,
the cache's) are drawn on a terminal only; elsewhere (a log file, a batch job) a line per step says the same.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Sequence

# Logger name -> starts of the messages from it that are noise.
NOISY_LOGGERS: dict[str, tuple[str, ...]] = {
    "pytorch_lightning.utilities.rank_zero": (
        "GPU available",
        "TPU available",
        "HPU available",
        "💡 Tip",
        "`Trainer.fit` stopped",
    ),
    "lightning.pytorch.utilities.rank_zero": (
        "GPU available",
        "TPU available",
        "HPU available",
        "💡 Tip",
        "`Trainer.fit` stopped",
    ),
    "mlflow.store.db.utils": ("Creating initial MLflow database tables", "Updating database tables"),
}
# Warnings (message starts) raised in every fold by library code, about that code.
NOISY_WARNINGS: tuple[str, ...] = (
    "The `srun` command is available on your system but is not used",
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)


class DropMessages(logging.Filter):
    """Drops the records of one logger whose message starts with one of `starts`."""

    def __init__(self, starts: Sequence[str]) -> None:
        super().__init__()
        self.starts = tuple(starts)

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def quiet() -> None:
    """Silences the known noise (idempotent: each filter is installed once per process)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name, starts in NOISY_LOGGERS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropMessages) for f in logger.filters):
            logger.addFilter(DropMessages(starts))
    for message in NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def interactive() -> bool:
    """Whether progress bars can be drawn: the console (stderr) is a terminal."""
    return sys.stderr.isatty()


def duration(seconds: float) -> str:
    """`42s`, `3m05s`, `2h07m`: short enough for a progress line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def time_left(elapsed: float, done: int, total: int) -> float | None:
    """Seconds left if the remaining folds take as long as the finished ones did on average (None before any)."""
    if done <= 0:
        return None
    return elapsed / done * max(total - done, 0)


def progress(done: int, total: int, elapsed: float) -> str:
    """`2m10s elapsed, about 4m20s left` for a sweep with `done` of `total` folds finished."""
    left = time_left(elapsed, done, total)
    return f"{duration(elapsed)} elapsed" + ("" if not left else f", about {duration(left)} left")
