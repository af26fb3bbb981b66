"""Configs compose into pipelines; the cache key follows every setting, the clip's files and the format version;
entries are never read half-written; filling the cache skips or names failing clips."""

import contextlib
import copy
import dataclasses
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer_lightning.preprocess import cache as cache_module
from mer_lightning.preprocess.cache import InputCache
from mer_lightning.preprocess.fill import fill_cache
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.preprocess.sample import PreprocessError
from mer_lightning.preprocess.steps import LoadKeyFrames, OpticalFlow
from tests.preprocess.tiny_clips import write_clip

CONF = Path(__file__).resolve().parents[2] / "conf"
CONFIGS = sorted(path.stem for path in (CONF / "preprocessing").glob("*.yaml"))
PER_CLIP_VALUES = {"sfem"}  # inputs that are a few numbers per clip (an expression's intensity), not images


def pipeline_from_config(name: str, *overrides: str) -> Pipeline:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("preprocess", overrides=[f"preprocessing={name}", *overrides])
    return instantiate(cfg.preprocessing)


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip", num_frames=10, onset=1, apex=4, offset=8)


class Counting:
    """A pipeline that counts how often it is run."""

    def __init__(self, pipeline):
        self.pipeline, self.calls = pipeline, 0

    def __call__(self, clip):
        self.calls += 1
        return self.pipeline(clip)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_preprocessing_config_composes_instantiates_and_runs(name, clip):
    pipeline = pipeline_from_config(name)
    arrays = pipeline(clip)
    assert sorted(arrays) == sorted(pipeline.outputs)
    for key, array in arrays.items():
        assert array.dtype == np.float32 and np.isfinite(array).all()
        assert array.ndim == 1 if key in PER_CLIP_VALUES else array.ndim >= 3, key


@pytest.mark.parametrize("name", CONFIGS)
def test_every_setting_of_every_step_is_in_the_cache_key(name, tmp_path):
    pipeline = pipeline_from_config(name)
    base = InputCache(tmp_path, pipeline.settings).root
    for step_name, step in pipeline.steps.items():
        for field in dataclasses.fields(step):
            changed = copy.copy(step)
            object.__setattr__(changed, field.name, ["a value no config uses"])  # past the settings check
            other = Pipeline({**pipeline.steps, step_name: changed}, pipeline.outputs)
            assert InputCache(tmp_path, other.settings).root != base, f"{step_name}.{field.name}"


@pytest.mark.parametrize(
    ("name", "override"),
    [
        ("flow_ststnet", "preprocessing.steps.flow.method=dis"),
        ("flow_ststnet", "preprocessing.steps.resize.size=[32,32]"),
        ("flow_diff", "preprocessing.steps.diff.rescale=linear"),
        ("dynamic_image", "preprocessing.steps.dynamic.variant=learnet"),
        ("dynamic_image", "preprocessing.steps.frames.num_frames=5"),
        ("lmf", "preprocessing.steps.lmf.normalize=false"),
        ("regions", "preprocessing.steps.regions.kind=landmarks"),
        ("magnify", "preprocessing.steps.magnify.alpha=5"),
    ],
)
def test_a_changed_setting_is_a_miss_never_a_stale_hit(name, override, clip, tmp_path):
    base = Counting(pipeline_from_config(name))
    changed = Counting(pipeline_from_config(name, override))
    InputCache(tmp_path, base.pipeline.settings).get_or_compute(clip, base)
    InputCache(tmp_path, base.pipeline.settings).get_or_compute(clip, base)
    assert base.calls == 1
    InputCache(tmp_path, changed.pipeline.settings).get_or_compute(clip, changed)
    assert changed.calls == 1


def flow_pipeline():
    return Counting(Pipeline({"frames": LoadKeyFrames(), "flow": OpticalFlow(method="farneback")}, ["flow"]))


def test_rewritten_frames_or_landmarks_are_a_miss(clip, tmp_path):
    pipeline = flow_pipeline()
    cache = InputCache(tmp_path / "cache", pipeline.pipeline.settings)
    first = cache.get_or_compute(clip, pipeline)
    cache.get_or_compute(clip, pipeline)
    assert pipeline.calls == 1
    apex = clip.frames[clip.apex]
    apex.write_bytes(clip.frames[clip.onset].read_bytes())  # the apex frame is now a copy of the onset
    stat = apex.stat()
    os.utime(apex, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = cache.get_or_compute(clip, pipeline)
    assert pipeline.calls == 2 and not np.array_equal(first["flow"], second["flow"])
    np.save(clip.landmarks, np.load(clip.landmarks) + 1)
    cache.get_or_compute(clip, pipeline)
    assert pipeline.calls == 3


def test_a_new_format_version_is_a_miss(clip, tmp_path, monkeypatch):
    pipeline = flow_pipeline()
    InputCache(tmp_path, pipeline.pipeline.settings).get_or_compute(clip, pipeline)
    monkeypatch.setattr(cache_module, "FORMAT_VERSION", cache_module.FORMAT_VERSION + 1)
    InputCache(tmp_path, pipeline.pipeline.settings).get_or_compute(clip, pipeline)
    assert pipeline.calls == 2


def test_an_entry_being_written_is_invisible_and_a_crash_leaves_none(clip, tmp_path, monkeypatch):
    pipeline = flow_pipeline()
    cache = InputCache(tmp_path, pipeline.pipeline.settings)
    entry = cache.path(clip)
    real_savez = np.savez

    def crash_halfway(file, **arrays):
        real_savez(file, **arrays)
        file.truncate(file.tell() // 2)
        assert not entry.exists()  # while the bytes go out, the entry's name is not there to be read
        raise OSError("disk full")

    monkeypatch.setattr(cache_module.np, "savez", crash_halfway)
    with pytest.raises(OSError, match="disk full"):
        cache.get_or_compute(clip, pipeline)
    assert not entry.exists() and not list(cache.root.glob("*.tmp"))
    monkeypatch.undo()
    (cache.root / "leftover-of-a-killed-job.tmp").write_bytes(b"PK\x03\x04 half an npz")
    arrays = cache.get_or_compute(clip, pipeline)
    assert pipeline.calls == 2 and arrays["flow"].shape == (3, 64, 64)
    with np.load(entry) as stored:
        np.testing.assert_array_equal(stored["flow"], arrays["flow"])


def broken_and_good_clips(tmp_path):
    good = [write_clip(tmp_path / f"c{i}", clip_id=f"EP0{i}") for i in range(3)]
    good[1].frames[good[1].apex].write_bytes(b"not an image")
    return good


def test_fill_skips_a_failing_clip_and_goes_on(tmp_path):
    clips = broken_and_good_clips(tmp_path)
    pipeline = flow_pipeline().pipeline
    cache = InputCache(tmp_path / "cache", pipeline.settings)
    report = fill_cache(clips, pipeline, cache, on_error="skip", progress=False)
    assert report.computed == 2 and list(report.skipped) == ["tiny/sub01/EP01"]
    assert "cannot read image" in report.skipped["tiny/sub01/EP01"]
    again = fill_cache(clips, pipeline, cache, on_error="skip", progress=False)
    assert again.cached == 2 and again.computed == 0 and list(again.skipped) == ["tiny/sub01/EP01"]


def test_fill_names_the_failing_clip_when_asked_to_raise(tmp_path):
    clips = broken_and_good_clips(tmp_path)
    pipeline = flow_pipeline().pipeline
    with pytest.raises(PreprocessError, match=r"clip tiny/sub01/EP01: cannot read image .*img5\.png"):
        fill_cache(clips, pipeline, InputCache(tmp_path / "cache", pipeline.settings), progress=False)
    with pytest.raises(ValueError, match="on_error"):
        fill_cache(clips, pipeline, InputCache(tmp_path / "cache", pipeline.settings), on_error="ignore")


@pytest.mark.slow
def test_parallel_workers_fill_the_same_entries_as_one_process(tmp_path):
    clips = [write_clip(tmp_path / f"c{i}", clip_id=f"EP0{i}") for i in range(4)]
    pipeline = flow_pipeline().pipeline
    parallel = InputCache(tmp_path / "parallel", pipeline.settings)
    report = fill_cache(clips, pipeline, parallel, workers=2, progress=False)
    assert report.computed == 4
    serial = InputCache(tmp_path / "serial", pipeline.settings)
    fill_cache(clips, pipeline, serial, progress=False)
    for clip in clips:
        with np.load(parallel.path(clip)) as a, np.load(serial.path(clip)) as b:
            np.testing.assert_array_equal(a["flow"], b["flow"])


def computed_entry(clip, tmp_path):
    pipeline = flow_pipeline()
    cache = InputCache(tmp_path / "cache", pipeline.pipeline.settings)
    return pipeline, cache, cache.get_or_compute(clip, pipeline)


def rewrite_entry(path: Path, arrays: dict) -> None:
    with open(path, "wb") as file:
        np.savez(file, **arrays)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncated", "is unreadable"),
        ("garbage", "is unreadable"),
        ("values changed", "holds values other than those it was written with"),
        ("another clip's", "was made from other source files"),
        ("no record", "has no record of what it holds"),
    ],
)
def test_a_damaged_entry_is_a_miss_named_in_a_warning_and_recomputed(clip, tmp_path, caplog, damage, message):
    pipeline, cache, first = computed_entry(clip, tmp_path)
    entry = cache.path(clip)
    with np.load(entry) as stored:
        stored_arrays = {key: stored[key] for key in stored.files}
    if damage == "truncated":
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(2000))
    elif damage == "values changed":  # well-formed, its record kept, one value changed: what went silently before
        stored_arrays["flow"][0, 0, 0] += 1
        rewrite_entry(entry, stored_arrays)
    elif damage == "another clip's":
        record = json.loads(str(stored_arrays[cache_module.RECORD]))
        record["clip"]["uid"] = "tiny/sub09/EP09"
        rewrite_entry(entry, {**stored_arrays, cache_module.RECORD: np.array(json.dumps(record))})
    else:
        rewrite_entry(entry, {"flow": stored_arrays["flow"]})
    with caplog.at_level("WARNING"):
        again = cache.get_or_compute(clip, pipeline)
    assert pipeline.calls == 2
    np.testing.assert_array_equal(again["flow"], first["flow"])
    (warning,) = [r.getMessage() for r in caplog.records]
    assert f"cache entry {entry} of clip {clip.uid} {message}" in warning and "computing it again" in warning
    caplog.clear()
    assert cache.get(clip) is not None and not caplog.records  # stored whole again


def test_entries_are_as_readable_as_any_file_the_user_makes(clip, tmp_path):
    previous = os.umask(0o022)
    try:
        cache_module._umask.cache_clear()
        _, cache, _ = computed_entry(clip, tmp_path)
    finally:
        os.umask(previous)
        cache_module._umask.cache_clear()
    assert cache.path(clip).stat().st_mode & 0o777 == 0o644


@contextlib.contextmanager
def read_only(folder: Path):
    """The folder made read-only: its mode for a user, a read-only bind mount for root (whom modes do not stop)."""
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")] if path.is_dir()}
        for path in modes:
            path.chmod(0o555)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only folder as root here: {mounted.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_cache_serves_its_entries_and_computes_the_rest_in_memory_with_one_warning(tmp_path, caplog):
    clips = [write_clip(tmp_path / f"c{i}", clip_id=f"EP0{i}") for i in range(3)]
    pipeline = flow_pipeline()
    cache = InputCache(tmp_path / "cache", pipeline.pipeline.settings)
    cache.get_or_compute(clips[0], pipeline)
    with read_only(tmp_path / "cache"), caplog.at_level("WARNING"):
        fresh = InputCache(tmp_path / "cache", pipeline.pipeline.settings)
        arrays = [fresh.get_or_compute(clip, pipeline) for clip in clips]
    assert pipeline.calls == 3 and all(a["flow"].shape == (3, 64, 64) for a in arrays)  # the first one read
    (warning,) = [r.getMessage() for r in caplog.records]
    assert f"the input cache {cache.root} cannot be written to" in warning and "computed in memory" in warning
    assert not fresh.path(clips[1]).exists()
