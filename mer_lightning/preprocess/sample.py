"""What the steps of a pipeline share: the sample they pass along, its key frames, and the error a clip fails with.

The sample is a dict: `{"clip": Clip}` to begin with, then
- `frames` (T, H, W, C) uint8 RGB, the loaded frames; `frame_positions` (T,) float64, the clip frame each one is
  (fractional for interpolated frames); `key_positions` {"onset"|"apex"|"offset": index into `frames`}, so later
  steps find the key frames whichever loader ran.
- `landmarks` (68, 2) for the onset frame, or (T, 68, 2) when tracked on every loaded frame, in `frames` pixels.
- model inputs under each step's `output` key: (C, H, W) float32, (T, C, H, W) for sequences, (R, ...) for regions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mer_lightning.clip import KEY_FRAMES

Sample = dict[str, Any]

__all__ = ["KEY_FRAMES", "PreprocessError", "Sample", "key_frame", "key_position"]


class PreprocessError(RuntimeError):
    """A clip could not be turned into model inputs; the message names the clip and the file or setting."""


def key_position(sample: Sample, key: str) -> int:
    """Index into `frames` of a key frame, as the loader recorded it."""
    positions = sample.get("key_positions", {})
    if key not in positions:
        raise ValueError(
            f"preprocessing: key frame {key!r} is not among the loaded frames ({sorted(positions)}); load it with "
            "LoadKeyFrames keys or LoadFrames"
        )
    position: int = positions[key]
    return position


def key_frame(sample: Sample, key: str) -> np.ndarray:
    frame: np.ndarray = sample["frames"][key_position(sample, key)]
    return frame
