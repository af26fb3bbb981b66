"""Dynamic images: a whole clip summarised as one image by approximate rank pooling (Bilen et al., CVPR 2016).

A dynamic image is a weighted sum of the frames whose weights grow with time, so it encodes the direction in which
the appearance changes; a model that takes one image can then see motion. The weights are
alpha_t = 2(T - t + 1) - (T + 1)(H_T - H_{t-1}) for t = 1..T, with H_k the k-th harmonic number (H_0 = 0), which is
the same as sum_{i=t..T} (2i - T - 1) / i. They sum to zero, so a clip without change gives an all-zero image.

LEARNet's released code uses sum_{i=t..T} (2i - T) / i instead (variant "learnet"); those weights sum to T, so its
dynamic images keep a trace of the mean frame as well as of the change.
"""

from __future__ import annotations

import numpy as np

# alpha_t = 2(T - t + 1) - c(T) (H_T - H_{t-1}); the variants differ only in c(T).
_HARMONIC_FACTOR = {
    "bilen": lambda length: length + 1,
    "learnet": lambda length: length,
}
VARIANTS = tuple(_HARMONIC_FACTOR)

# A span below this (in pixel units) is rounding noise, not change: a still clip's raw image is ~1e-13, not 0.
_FLAT_SPAN = 1e-6


def rank_pooling_weights(length: int, variant: str = "bilen") -> np.ndarray:
    """(T,) float64 weights alpha_1..alpha_T of approximate rank pooling, in closed form."""
    if length < 1:
        raise ValueError(f"rank pooling needs at least one frame, got T={length}")
    if variant not in _HARMONIC_FACTOR:
        raise ValueError(f"unknown dynamic image variant {variant!r}; choose one of {VARIANTS}")
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, length + 1))])  # H_0..H_T
    t = np.arange(1, length + 1)
    return 2.0 * (length - t + 1) - _HARMONIC_FACTOR[variant](length) * (harmonic[length] - harmonic[t - 1])


def dynamic_image(frames: np.ndarray, variant: str = "bilen", rescale: bool = True) -> np.ndarray:
    """Rank-pooled image (H, W[, C]) float32 of frames (T, H, W[, C]).

    With `rescale` the image is stretched min-max to 0..255 over all pixels and channels together (as Bilen's code
    shows dynamic images), so the colours keep their relative balance; an image without change (a still clip) becomes
    all zeros rather than NaN or amplified rounding noise. `rescale=False` returns the raw weighted sum.
    """
    frames = np.asarray(frames)
    weights = rank_pooling_weights(len(frames), variant)
    raw = np.tensordot(weights, frames.astype(np.float64), axes=(0, 0))
    if not rescale:
        return raw.astype(np.float32)
    low, span = raw.min(), np.ptp(raw)
    if span <= _FLAT_SPAN:
        return np.zeros(raw.shape, dtype=np.float32)
    return ((raw - low) / span * 255.0).astype(np.float32)
