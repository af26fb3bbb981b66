"""Shared fixtures: a tiny synthetic set and a way to run the command-line entry points as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MEGC2019 = Path(os.environ.get("MER_SHARED_DATA", REPO.parent / "shared" / "data")) / "megc2019-ststnet-flow"
TINY_SET = [  # a synthetic set of 3 subjects x 6 short 64x64 clips
    "dataset.generator.subjects=3",
    "dataset.generator.clips_per_subject=6",
    "dataset.generator.min_frames=6",
    "dataset.generator.max_frames=8",
    "dataset.generator.height=64",
    "dataset.generator.width=64",
]
TINY = [
    *TINY_SET,
    "preprocessing.steps.flow.method=farneback",
    "trainer.max_epochs=2",
]


def cli_env(root: Path, warnings: str = "ignore") -> dict[str, str]:
    """The environment of a command-line run: MER_ROOT=root (the store under it: a MER_TRACKING_URI of the
    developer's is left out), warnings hidden unless asked."""
    base = {k: v for k, v in os.environ.items() if k != "MER_TRACKING_URI"}
    return {**base, "MER_ROOT": str(root), "PYTHONWARNINGS": warnings}


def run_cli(
    module: str,
    *args: str,
    root: Path,
    check: bool = True,
    warnings: str = "ignore",
    env: dict | None = None,
    timeout: float = 900,
    cwd: Path = REPO,
) -> subprocess.CompletedProcess:
    """Runs `python -m module args` with MER_ROOT=root, as `mer-train ...` would run (warnings hidden unless asked;
    `env` adds variables), from `cwd` (the repository by default)."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env={**cli_env(root, warnings), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{module} {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def write_tiny_set(root: Path) -> subprocess.CompletedProcess:
    """`mer-synth` writes TINY_SET's synthetic set where a run under MER_ROOT=root reads it (root/data/synthetic), for
    a test to damage before training."""
    flags = []
    for setting in TINY_SET:  # dataset.generator.clips_per_subject=6 -> --clips-per-subject 6
        key, value = setting.removeprefix("dataset.generator.").split("=")
        flags += [f"--{key.replace('_', '-')}", value]
    return run_cli("mer_lightning.synth", str(root / "data" / "synthetic"), *flags, root=root)


@pytest.fixture
def tiny_overrides() -> list[str]:
    return list(TINY)


@pytest.fixture(scope="module")
def megc2019() -> Path:
    """The licensed MEGC 2019 composite folder (`$MER_SHARED_DATA/megc2019-ststnet-flow`): under CI (`CI=true`) a
    missing folder fails the run; elsewhere the test skips and says why."""
    if not (MEGC2019 / "labels.csv").is_file():
        message = f"MEGC 2019 flow data not found at {MEGC2019} (set MER_SHARED_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return MEGC2019
