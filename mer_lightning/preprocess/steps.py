"""The configurable steps of a preprocessing pipeline.

A step is a frozen dataclass: its fields are its settings (and so part of the cache key) and `__call__` takes the
sample dict (`{"clip": Clip, ...arrays}`) and returns it with what the step adds or changes. Arrays keep the layout
of the step that made them: frames (T, H, W, C) uint8 RGB; model inputs (C, H, W) float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from mer_lightning.preprocess.flow import FLOW_CHANNELS, FLOW_METHODS, flow_features, minmax_per_channel, optical_flow

Sample = dict[str, Any]
KEY_FRAMES = ("onset", "apex", "offset")


class PreprocessError(RuntimeError):
    """A clip could not be turned into model inputs; the message names the clip and the file or setting."""


def read_image(path, channel_order: str = "rgb") -> np.ndarray:
    """(H, W, 3) uint8 image in the asked channel order (`bgr` is what `cv2.imread` returns)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PreprocessError(f"cannot read image {path}")
    if channel_order == "rgb":
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if channel_order == "bgr":
        return image
    raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")


def _check(setting: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"preprocessing: {setting} {unknown} not understood; choose from {list(allowed)}")


@dataclass(frozen=True)
class LoadKeyFrames:
    """Reads the clip's annotated key frames (onset and apex by default) into `frames`, in `keys` order."""

    keys: Sequence[str] = ("onset", "apex")

    def __post_init__(self) -> None:
        _check("keys", self.keys, KEY_FRAMES)

    def __call__(self, sample: Sample) -> Sample:
        clip = sample["clip"]
        positions = [getattr(clip, k) for k in self.keys]
        sample["frames"] = np.stack([read_image(clip.frames[i]) for i in positions])
        sample["frame_keys"] = tuple(self.keys)
        return sample


@dataclass(frozen=True)
class OpticalFlow:
    """Flow from one loaded key frame to another, as (C, H, W) channels (u, v, strain by default)."""

    method: str = "tvl1"
    source: str = "onset"
    target: str = "apex"
    channels: Sequence[str] = ("u", "v", "strain")
    normalize: str = "minmax"
    output: str = "flow"
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check("method", [self.method], FLOW_METHODS)
        _check("channels", self.channels, FLOW_CHANNELS)
        _check("normalize", [self.normalize], ("minmax", "none"))

    def __call__(self, sample: Sample) -> Sample:
        keys = sample["frame_keys"]
        first, second = (sample["frames"][keys.index(k)] for k in (self.source, self.target))
        features = flow_features(optical_flow(first, second, self.method, **dict(self.params)), self.channels)
        if self.normalize == "minmax":
            features = minmax_per_channel(features)
        sample[self.output] = features
        return sample


@dataclass(frozen=True)
class ReadImage:
    """A precomputed input stored as one image per clip (its first frame path), as (C, H, W) float32 0..255."""

    output: str = "flow"
    channel_order: str = "bgr"

    def __post_init__(self) -> None:
        _check("channel_order", [self.channel_order], ("rgb", "bgr"))

    def __call__(self, sample: Sample) -> Sample:
        image = read_image(sample["clip"].frames[0], self.channel_order)
        sample[self.output] = image.transpose(2, 0, 1).astype(np.float32)
        return sample


@dataclass(frozen=True)
class Resize:
    """Resizes a (C, H, W) input to `size` (height, width) with area interpolation (bilinear when enlarging)."""

    key: str
    size: Sequence[int]

    def __call__(self, sample: Sample) -> Sample:
        image = sample[self.key]
        height, width = self.size
        shrinking = height <= image.shape[1] and width <= image.shape[2]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        resized = [cv2.resize(channel, (width, height), interpolation=interpolation) for channel in image]
        sample[self.key] = np.stack(resized).astype(np.float32)
        return sample
