"""`mer-preprocess` on a tiny synthetic set with parallel workers, the clips it skips, and skip counts in fold runs."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer_lightning.datasets.synthetic import SyntheticSettings, generate
from mer_lightning.preprocess.cache import InputCache

CONF = Path(__file__).resolve().parents[1] / "conf"
SCRIPT = Path(sys.executable).with_name("mer-preprocess")
# The synthetic set is written in CASME II's layout, so the CASME II reader reads it.
DATASET = ["dataset=casme2", "dataset.landmarks=landmarks.npy", "dataset.classes=composite3"]
FAST_FLOW = ["preprocessing=flow_ststnet", "preprocessing.steps.flow.method=farneback"]


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    settings = SyntheticSettings(subjects=2, clips_per_subject=3, min_frames=8, max_frames=10, height=48, width=48)
    return generate(tmp_path_factory.mktemp("data") / "synthetic", settings)


def preprocess(root: Path, tiny_set: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [str(SCRIPT), *DATASET, f"dataset.root={tiny_set}", *FAST_FLOW, *overrides]
    return subprocess.run(
        command, cwd=root, env={**os.environ, "MER_ROOT": str(root)}, capture_output=True, text=True, timeout=120
    )


def training_cache(root: Path, tiny_set: Path) -> tuple[InputCache, list]:
    """The cache and clips `mer-train` would use with the same overrides."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "preprocess",
            overrides=[*DATASET, f"dataset.root={tiny_set}", *FAST_FLOW, f"datamodule.cache_dir={root / 'cache'}"],
        )
    return InputCache(cfg.datamodule.cache_dir, instantiate(cfg.preprocessing).settings), instantiate(
        cfg.dataset
    ).clips()


@pytest.mark.slow
def test_the_cli_fills_the_cache_training_reads_with_two_workers(tmp_path, tiny_set):
    done = preprocess(tmp_path, tiny_set, "workers=2")
    assert done.returncode == 0, done.stderr
    cache, clips = training_cache(tmp_path, tiny_set)
    assert f"{len(clips)} clips: {len(clips)} computed, 0 already cached, 0 skipped" in done.stdout
    assert "preprocess: 100%" in done.stderr  # the progress bar
    assert all(cache.path(clip).is_file() for clip in clips)
    again = preprocess(tmp_path, tiny_set, "workers=2")
    assert f"0 computed, {len(clips)} already cached" in again.stdout


@pytest.mark.slow
def test_the_cli_skips_or_names_a_clip_whose_frames_cannot_be_read(tmp_path, tiny_set):
    cache, clips = training_cache(tmp_path, tiny_set)
    broken = clips[0]
    original = broken.frames[broken.apex].read_bytes()
    broken.frames[broken.apex].write_bytes(b"not a jpeg")
    try:
        failed = preprocess(tmp_path, tiny_set, "workers=2")
        assert failed.returncode != 0 and f"clip {broken.uid}: cannot read image" in failed.stderr
        skipped = preprocess(tmp_path, tiny_set, "workers=2", "on_error=skip")
    finally:
        broken.frames[broken.apex].write_bytes(original)
    assert skipped.returncode == 0, skipped.stderr
    assert "1 skipped" in skipped.stdout and f"skipped {broken.uid}: clip {broken.uid}: cannot read" in skipped.stdout


@pytest.mark.slow
def test_a_fold_run_reports_how_many_clips_were_skipped(tmp_path):
    from mer_lightning.records import FoldResult
    from mer_lightning.tracking import Tracker

    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", artifact_location=str(tmp_path / "artifacts"))
    table = pd.DataFrame(
        {"clip": ["a", "b"], "subject": ["s", "s"], "dataset": ["d", "d"], "label": [0, 1], "prediction": [0, 1]}
    )
    for skipped in ({}, {"d/s/x": "clip d/s/x: cannot read image", "d/s/y": "clip d/s/y: no face"}):
        run_id = tracker.start_fold({"mer.fold": "s"}, {}, "", "fold s")
        result = FoldResult(tmp_path / f"result{len(skipped)}")
        result.write(table, ["negative", "positive"], {"skipped_clips": skipped})
        tracker.upload_fold(run_id, result, weights_run=None)
        run = tracker.client.get_run(run_id)
        assert run.data.metrics["skipped_clips"] == len(skipped)
        assert run.data.tags["mer.skipped_clips"] == str(len(skipped))
