"""What the steps share: checking their settings when made (so a bad config fails before any clip is read, naming
the setting) and a few array shapes."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from mer_lightning.preprocess.sample import Sample, key_position


def check_choice(setting: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"preprocessing: {setting} {unknown} not understood; choose from {list(allowed)}")


def check_size(setting: str, size: Sequence[int] | None, optional: bool = False) -> None:
    if size is None and optional:
        return
    if size is None or len(size) != 2 or any(int(s) != s or s < 1 for s in size):
        raise ValueError(f"preprocessing: {setting} must be two positive integers (height, width), got {size!r}")


def resize(image: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """(..., H, W) float32 array resized on its last two axes to `size` (area when shrinking, else bilinear)."""
    height, width = (int(s) for s in size)
    planes = np.asarray(image, dtype=np.float32).reshape(-1, *image.shape[-2:])
    shrinking = height <= image.shape[-2] and width <= image.shape[-1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = [cv2.resize(plane, (width, height), interpolation=interpolation) for plane in planes]
    return np.stack(resized).reshape(*image.shape[:-2], height, width)


def channels_first(image: np.ndarray) -> np.ndarray:
    """(..., H, W, C) -> (..., C, H, W) float32."""
    return np.moveaxis(np.asarray(image, dtype=np.float32), -1, -3)


def reference_landmarks(sample: Sample) -> np.ndarray:
    """(68, 2) landmarks of the onset frame, from either `landmarks` layout."""
    if "landmarks" not in sample:
        raise ValueError("preprocessing: this step needs landmarks; put a Landmarks step before it")
    landmarks = sample["landmarks"]
    return landmarks if landmarks.ndim == 2 else landmarks[key_position(sample, "onset")]
