"""Preprocessing speed: clips per second from raw frames to each cached input, per step, and what the pipeline adds.

On synthetic clips (CASME II layout, JPEG frames) at 128x128 and at a CASME II cropped size (282 high, 231 wide), for
each preprocessing config: a cold pass through `InputCache.get_or_compute` (read, compute, write the entry) timing
every step, then a warm pass (every clip a cache hit). For flow, the OpticalFlow step is compared with calling
`optical_flow` alone on the same frames, the whole pipeline with reading the two frames and calling it, and with
the same work written by hand (strain, scaling and resizing included): the framework's own overhead.
One process with one OpenCV thread, as each `mer-preprocess` worker runs: N workers divide the cold time by up to N.

    python benchmarks/bench_preprocess.py [--subjects 2] [--clips-per-subject 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer_lightning.preprocess.cache import InputCache
from mer_lightning.preprocess.flow import flow_features, minmax_per_channel, optical_flow
from mer_lightning.preprocess.images import read_image
from mer_lightning.preprocess.pipeline import Pipeline

CONF = Path(__file__).resolve().parents[1] / "conf"
SIZES = {"128x128": (128, 128), "282x231": (282, 231)}  # (height, width)
INPUTS = {
    "flow tvl1": ["preprocessing=flow_ststnet"],
    "flow dis": ["preprocessing=flow_ststnet", "preprocessing.steps.flow.method=dis"],
    "flow farneback": ["preprocessing=flow_ststnet", "preprocessing.steps.flow.method=farneback"],
    "dynamic image": ["preprocessing=dynamic_image"],
    "diff": [
        "preprocessing=flow_diff",
        "~preprocessing.steps.flow",
        "~preprocessing.steps.resize_flow",
        "preprocessing.outputs=[diff]",
    ],
    "flow+diff (tvl1)": ["preprocessing=flow_diff"],
    "regions (tvl1)": ["preprocessing=regions"],
    "lmf": ["preprocessing=lmf"],
    "magnify+dynamic": ["preprocessing=magnify"],
}


class Timed:
    """A step that adds its run time to `times[name]`."""

    def __init__(self, step, name: str, times: dict[str, float]) -> None:
        self.step, self.name, self.times = step, name, times

    def __call__(self, sample):
        start = time.perf_counter()
        sample = self.step(sample)
        self.times[self.name] += time.perf_counter() - start
        return sample


def synthetic_clips(root: Path, *overrides: str) -> list:
    """The clips of the synthetic set (`dataset=synthetic`) generated into `root` with these overrides."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("preprocess", overrides=[f"dataset.root={root}", *overrides])
    return instantiate(cfg.dataset).clips()


def pipeline(*overrides: str) -> Pipeline:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return instantiate(compose("preprocess", overrides=list(overrides)).preprocessing)


def cold_and_warm(clips, real: Pipeline, cache_dir: Path) -> tuple[float, dict[str, float], float]:
    """Seconds per clip of a cold pass, seconds per clip of each step in it, and seconds per clip of a warm pass."""
    times: dict[str, float] = defaultdict(float)
    timed = Pipeline({name: Timed(step, name, times) for name, step in real.steps.items()}, real.outputs)
    cache = InputCache(cache_dir, real.settings)  # the real pipeline's key; the timed one computes the same arrays
    start = time.perf_counter()
    for clip in clips:
        cache.get_or_compute(clip, timed)
    cold = (time.perf_counter() - start) / len(clips)
    start = time.perf_counter()
    for clip in clips:
        cache.get_or_compute(clip, timed)
    warm = (time.perf_counter() - start) / len(clips)
    return cold, {name: t / len(clips) for name, t in times.items()}, warm


def by_hand(onset: Path, apex: Path, step, size) -> np.ndarray:
    """The flow pipeline's work written out without the framework: read, flow, features, scale, resize."""
    first, second = read_image(onset), read_image(apex)
    features = minmax_per_channel(flow_features(optical_flow(first, second, step.method), step.channels))
    return np.stack([cv2.resize(c, (size[1], size[0]), interpolation=cv2.INTER_AREA) for c in features])


def flow_overhead(clips, method: str, rounds: int) -> dict[str, float]:
    """Seconds per clip of `optical_flow` alone, the OpticalFlow step on the same frames, reading the two frames and
    calling `optical_flow`, the same work by hand, and the whole flow pipeline (no cache): each the best of `rounds`
    runs per clip, all interleaved so that load from other processes hits them alike."""
    real = pipeline("preprocessing=flow_ststnet", f"preprocessing.steps.flow.method={method}")
    step, size = real.steps["flow"], real.steps["resize"].size
    best: dict[str, list[float]] = defaultdict(lambda: [float("inf")] * len(clips))
    for _ in range(rounds):
        for i, clip in enumerate(clips):
            onset, apex = clip.frames[clip.onset], clip.frames[clip.apex]
            first, second = read_image(onset), read_image(apex)
            sample = {"frames": np.stack([first, second]), "key_positions": {"onset": 0, "apex": 1}}
            runs = {
                "function": lambda: optical_flow(first, second, method),
                "step": lambda: step(dict(sample)),
                "read+function": lambda: optical_flow(read_image(onset), read_image(apex), method),
                "by hand": lambda: by_hand(onset, apex, step, size),
                "pipeline": lambda: real(clip),
            }
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                best[name][i] = min(best[name][i], time.perf_counter() - start)
    return {name: sum(times) / len(clips) for name, times in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--clips-per-subject", type=int, default=8)
    args = parser.parse_args()
    cv2.setNumThreads(1)  # as in a `mer-preprocess` worker: figures are per core
    print(f"one process, one OpenCV thread ({os.cpu_count()} CPUs); times per clip")
    with tempfile.TemporaryDirectory(prefix="bench-preprocess-") as work:
        work = Path(work)
        for size_name, (height, width) in SIZES.items():
            clips = synthetic_clips(
                work / f"data-{size_name}",
                f"dataset.generator.subjects={args.subjects}",
                f"dataset.generator.clips_per_subject={args.clips_per_subject}",
                f"dataset.generator.height={height}",
                f"dataset.generator.width={width}",
            )
            frames = np.mean([c.num_frames for c in clips])
            print(f"\n## {size_name} (height x width), {len(clips)} clips of {frames:.1f} frames on average")
            print(f"{'input':<18} {'clips/s':>8} {'cold ms':>8} {'warm hit ms':>12}  per step (ms)")
            for input_name, overrides in INPUTS.items():
                real = pipeline(*overrides)
                cold, steps, warm = cold_and_warm(clips, real, work / f"cache-{size_name}")
                per_step = "  ".join(f"{name} {t * 1e3:.2f}" for name, t in steps.items())
                print(f"{input_name:<18} {1 / cold:>8.1f} {cold * 1e3:>8.2f} {warm * 1e3:>12.3f}  {per_step}")
            print(
                f"\n{'flow method':<12} {'function ms':>11} {'step ms':>8} {'step +%':>8} {'read+fn ms':>10} "
                f"{'pipeline ms':>11} {'pipeline +%':>11} {'by hand ms':>10} {'framework +%':>12}"
            )
            for method in ("tvl1", "dis", "farneback"):
                t = flow_overhead(clips, method, rounds=2 if method == "tvl1" else 15)
                print(
                    f"{method:<12} {t['function'] * 1e3:>11.2f} {t['step'] * 1e3:>8.2f} "
                    f"{100 * (t['step'] / t['function'] - 1):>7.1f}% {t['read+function'] * 1e3:>10.2f} "
                    f"{t['pipeline'] * 1e3:>11.2f} {100 * (t['pipeline'] / t['read+function'] - 1):>10.1f}% "
                    f"{t['by hand'] * 1e3:>10.2f} {100 * (t['pipeline'] / t['by hand'] - 1):>11.1f}%"
                )


if __name__ == "__main__":
    main()
