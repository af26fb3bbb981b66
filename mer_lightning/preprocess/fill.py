"""Filling the input cache for many clips at once, in parallel worker processes (what `mer-preprocess` runs).

Training fills the same cache lazily (`MERDataModule`) through the same `InputCache.get_or_compute` and the same key,
so a clip computed here is a hit for every fold of a sweep, and what a sweep computed is a hit here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import closing
from dataclasses import dataclass, field
from multiprocessing import get_context

import cv2
from tqdm import tqdm

from mer_lightning.clip import Clip
from mer_lightning.preprocess.cache import InputCache
from mer_lightning.preprocess.pipeline import Pipeline
from mer_lightning.preprocess.sample import PreprocessError

ON_ERROR = ("raise", "skip")
Result = tuple[str, str, str]  # (clip uid, "computed" | "failed", error message)


@dataclass
class FillReport:
    """What a fill did: clips computed, clips already cached, and the skipped ones with their reasons."""

    computed: int = 0
    cached: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def _fill_one(clip: Clip, pipeline: Pipeline, cache: InputCache) -> Result:
    try:
        cache.get_or_compute(clip, pipeline)
    except PreprocessError as err:
        return clip.uid, "failed", str(err)
    return clip.uid, "computed", ""


_worker: tuple[Pipeline, InputCache] | None = None


def _start_worker(pipeline: Pipeline, cache: InputCache) -> None:
    global _worker
    cv2.setNumThreads(1)  # the processes are the parallelism; OpenCV's own threads would only compete with them
    _worker = (pipeline, cache)


def _fill_in_worker(clip: Clip) -> Result:
    return _fill_one(clip, *_worker)


def _results(clips: Sequence[Clip], pipeline: Pipeline, cache: InputCache, workers: int) -> Iterator[Result]:
    if workers <= 1 or len(clips) <= 1:
        for clip in clips:
            yield _fill_one(clip, pipeline, cache)
        return
    # spawn, not fork: a forked copy of a process that has started torch or OpenMP threads can hang.
    executor = ProcessPoolExecutor(
        min(workers, len(clips)), get_context("spawn"), initializer=_start_worker, initargs=(pipeline, cache)
    )
    try:
        for future in as_completed([executor.submit(_fill_in_worker, clip) for clip in clips]):
            yield future.result()
    finally:
        executor.shutdown(cancel_futures=True)


def fill_cache(
    clips: Sequence[Clip],
    pipeline: Pipeline,
    cache: InputCache,
    workers: int = 1,
    on_error: str = "raise",
    progress: bool = True,
) -> FillReport:
    """Computes every clip missing from the cache, with `workers` processes and a progress bar.

    A clip that fails with `PreprocessError` stops the run (`on_error="raise"`, naming it) or is recorded in the
    report's `skipped` (`"skip"`); any other error is a bug or a bad setting and always stops it.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    report, missing = FillReport(), []
    for clip in clips:  # no worker is started for cached clips
        try:
            cached = cache.get(clip) is not None
        except PreprocessError as err:  # a source file gone since the clip was read
            if on_error == "raise":
                raise
            report.skipped[clip.uid] = str(err)
            continue
        if cached:
            report.cached += 1
        else:
            missing.append(clip)
    done = report.cached + len(report.skipped)
    bar = tqdm(total=len(clips), initial=done, desc="preprocess", unit="clip", disable=not progress)
    with bar, closing(_results(missing, pipeline, cache, workers)) as results:
        for uid, status, message in results:
            bar.update()
            if status == "failed":
                if on_error == "raise":
                    raise PreprocessError(message)
                report.skipped[uid] = message
            else:
                report.computed += 1
            bar.set_postfix(computed=report.computed, cached=report.cached, skipped=len(report.skipped))
    return report
