"""Dense optical flow between two frames, and the features STSTNet-style models take from it.

Flow follows one convention whatever the method: `flow[..., 0]` (u) and `flow[..., 1]` (v) are the horizontal and
vertical displacement of each pixel of the first frame into the second.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from skimage.registration import optical_flow_tvl1

FLOW_METHODS = ("tvl1", "dis", "farneback")
FLOW_CHANNELS = ("u", "v", "magnitude", "strain")


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame


def optical_flow(first: np.ndarray, second: np.ndarray, method: str = "tvl1", **params) -> np.ndarray:
    """(H, W, 2) float32 flow from `first` to `second` (uint8 frames, RGB or gray)."""
    a, b = _gray(first), _gray(second)
    if method == "tvl1":
        v, u = optical_flow_tvl1(a.astype(np.float32) / 255.0, b.astype(np.float32) / 255.0, **params)
        return np.stack([u, v], axis=-1).astype(np.float32)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(params.pop("preset", cv2.DISOPTICAL_FLOW_PRESET_MEDIUM))
        for name, value in params.items():
            getattr(dis, f"set{name}")(value)
        return dis.calc(a, b, None).astype(np.float32)
    if method == "farneback":
        settings = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
        settings.update(params)
        return cv2.calcOpticalFlowFarneback(a, b, None, **settings).astype(np.float32)
    raise ValueError(f"unknown optical flow method {method!r}; choose one of {FLOW_METHODS}")


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the infinitesimal strain tensor: sqrt(u_x^2 + v_y^2 + (u_y + v_x)^2 / 2)."""
    u_y, u_x = np.gradient(flow[..., 0])
    v_y, v_x = np.gradient(flow[..., 1])
    return np.sqrt(u_x**2 + v_y**2 + 0.5 * (u_y + v_x) ** 2).astype(np.float32)


def flow_features(flow: np.ndarray, channels: Sequence[str] = ("u", "v", "strain")) -> np.ndarray:
    """(C, H, W) stack of the named channels of a flow field."""
    available = {
        "u": lambda: flow[..., 0],
        "v": lambda: flow[..., 1],
        "magnitude": lambda: np.linalg.norm(flow, axis=-1),
        "strain": lambda: optical_strain(flow),
    }
    unknown = [c for c in channels if c not in available]
    if unknown:
        raise ValueError(f"unknown flow channels {unknown}; choose from {FLOW_CHANNELS}")
    return np.stack([available[c]() for c in channels]).astype(np.float32)


def minmax_per_channel(image: np.ndarray, high: float = 255.0) -> np.ndarray:
    """Each channel of a (C, H, W) array stretched to 0..high; a constant channel becomes 0."""
    low = image.min(axis=(1, 2), keepdims=True)
    span = image.max(axis=(1, 2), keepdims=True) - low
    return np.divide(image - low, span, out=np.zeros_like(image), where=span > 0) * high
