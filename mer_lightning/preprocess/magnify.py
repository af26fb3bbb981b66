"""Eulerian video magnification (Wu et al., SIGGRAPH 2012): make a clip's small changes large enough to see.

Each frame is split into a spatial pyramid; every pyramid level is band-pass filtered over time, pixel by pixel,
and the filtered signal, multiplied by `alpha`, is added back. Small motions and colour changes whose temporal
frequency lies in the band grow about (1 + alpha) times; still content is untouched. Micro-expression work uses it
to enlarge movements of a few tenths of a pixel before feature extraction.

Differences from the paper's reference code: channels are filtered in RGB (not YIQ, no chroma attenuation), and
alpha is the same at every pyramid level (no wavelength cut-off lambda_c).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import signal

TEMPORAL_FILTERS = ("ideal", "butterworth")


def _gaussian_levels(frame: np.ndarray, levels: int) -> list[np.ndarray]:
    pyramid = [frame]
    for _ in range(levels):
        pyramid.append(cv2.pyrDown(pyramid[-1]))
    return pyramid


def _expand(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    return cv2.pyrUp(image, dstsize=(like.shape[1], like.shape[0])).reshape(like.shape)


def _laplacian_levels(frame: np.ndarray, levels: int) -> list[np.ndarray]:
    gaussian = _gaussian_levels(frame, levels)
    return [g - _expand(coarser, g) for g, coarser in zip(gaussian, gaussian[1:])] + [gaussian[-1]]


_PYRAMIDS = {"laplacian": _laplacian_levels, "gaussian": _gaussian_levels}
PYRAMIDS = tuple(_PYRAMIDS)


def _band_pass(stack: np.ndarray, low: float, high: float, fps: float, temporal_filter: str, order: int) -> np.ndarray:
    """stack (T, ...) filtered along time to keep frequencies in [low, high] Hz."""
    if temporal_filter == "ideal":
        frequencies = np.fft.rfftfreq(len(stack), d=1.0 / fps)
        keep = ((frequencies >= low) & (frequencies <= high)).reshape((-1,) + (1,) * (stack.ndim - 1))
        return np.fft.irfft(np.fft.rfft(stack, axis=0) * keep, n=len(stack), axis=0).astype(np.float32)
    sos = signal.butter(order, [low, high], btype="bandpass", fs=fps, output="sos")
    # Zero-phase (forward and backward), so magnified changes stay in step with the frames; clips are short.
    padlen = min(3 * (2 * len(sos) + 1), len(stack) - 1)
    return signal.sosfiltfilt(sos, stack, axis=0, padlen=padlen).astype(np.float32)


def magnify(
    frames: np.ndarray,
    alpha: float,
    low: float,
    high: float,
    fps: float,
    pyramid: str = "laplacian",
    levels: int = 4,
    temporal_filter: str = "ideal",
    order: int = 1,
) -> np.ndarray:
    """Frames (T, H, W[, C]) uint8 with changes in the [low, high] Hz band amplified by `alpha`.

    `pyramid="laplacian"` amplifies every level of a Laplacian pyramid (motion magnification); `"gaussian"` only
    the coarsest Gaussian level, i.e. a blurred signal (colour/intensity magnification). `temporal_filter` is an
    ideal FFT band-pass (sharp, needs the whole clip) or a Butterworth band-pass of `order`, applied forward and
    backward. `alpha=0` returns the input.
    """
    frames = np.asarray(frames)
    if pyramid not in PYRAMIDS:
        raise ValueError(f"unknown pyramid {pyramid!r}; choose one of {PYRAMIDS}")
    if temporal_filter not in TEMPORAL_FILTERS:
        raise ValueError(f"unknown temporal filter {temporal_filter!r}; choose one of {TEMPORAL_FILTERS}")
    if not 0 < low < high <= fps / 2:
        raise ValueError(f"need 0 < low < high <= fps/2 = {fps / 2}, got low={low} high={high}")
    if temporal_filter == "butterworth" and high >= fps / 2:
        raise ValueError(f"a Butterworth band needs high < fps/2 = {fps / 2}, got {high}")
    if frames.ndim not in (3, 4) or len(frames) < 2:
        raise ValueError(f"magnify needs at least two frames (T, H, W[, C]), got shape {frames.shape}")
    if not 0 <= levels <= int(np.log2(min(frames.shape[1:3]))):
        raise ValueError(f"{levels} pyramid levels do not fit frames of {frames.shape[1]} x {frames.shape[2]}")

    as_float = frames.astype(np.float32)
    per_frame = [_PYRAMIDS[pyramid](frame, levels) for frame in as_float]
    # Laplacian: every level is a band of detail and is amplified; Gaussian: only the coarsest (blurred) level.
    amplified_levels = range(levels + 1) if pyramid == "laplacian" else [levels]
    amplified = {
        i: alpha * _band_pass(np.stack([p[i] for p in per_frame]), low, high, fps, temporal_filter, order)
        for i in amplified_levels
    }
    shapes = per_frame[0]
    out = np.empty_like(as_float)
    for t in range(len(frames)):
        change = amplified[levels][t]
        for i in range(levels - 1, -1, -1):
            change = _expand(change, shapes[i]) + (amplified[i][t] if i in amplified else 0.0)
        out[t] = as_float[t] + change
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
