"""The apex-minus-onset frame difference: what changed at the peak of the expression, as an image.

Meta-MMFNet feeds this difference to its second stream next to optical flow; unlike flow it needs no motion
estimate, so it cannot invent motion, but it also mixes motion with lighting change.
"""

from __future__ import annotations

import numpy as np

RESCALES = ("minmax", "linear")


def frame_difference(onset: np.ndarray, apex: np.ndarray, rescale: str | None = None) -> np.ndarray:
    """apex - onset as float32 (signed, -255..255 for uint8 frames), optionally mapped to 0..255.

    `rescale="minmax"` stretches the difference to fill 0..255 (a frame with no change becomes all zeros), which
    suits networks pretrained on images but makes every clip look equally strong; `rescale="linear"` maps
    -255..255 to 0..255 with (d + 255) / 2, so no change is 127.5 and magnitudes stay comparable across clips.
    """
    onset, apex = np.asarray(onset), np.asarray(apex)
    if onset.shape != apex.shape:
        raise ValueError(f"frame difference needs frames of one shape, got onset {onset.shape} and apex {apex.shape}")
    difference = apex.astype(np.float32) - onset.astype(np.float32)
    if rescale is None:
        return difference
    if rescale == "linear":
        return (difference + 255.0) / 2.0
    if rescale == "minmax":
        low, span = difference.min(), np.ptp(difference)
        if span == 0:
            return np.zeros_like(difference)
        return (difference - low) / span * 255.0
    raise ValueError(f"unknown rescale {rescale!r}; choose one of {RESCALES} or None")
