"""Shared fixtures: a tiny synthetic set and a way to run the command-line entry points as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "dataset.generator.subjects=3",
    "dataset.generator.clips_per_subject=6",
    "dataset.generator.min_frames=6",
    "dataset.generator.max_frames=8",
    "dataset.generator.height=64",
    "dataset.generator.width=64",
    "preprocessing.steps.flow.method=farneback",
    "trainer.max_epochs=2",
]


def run_cli(
    module: str, *args: str, root: Path, check: bool = True, warnings: str = "ignore"
) -> subprocess.CompletedProcess:
    """Runs `python -m module args` with MER_ROOT=root, as `mer-train ...` would run (warnings hidden unless asked)."""
    env = {**os.environ, "MER_ROOT": str(root), "PYTHONWARNINGS": warnings}
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{module} {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


@pytest.fixture
def tiny_overrides() -> list[str]:
    return list(TINY)
