"""Which frames a model sees: apex policies, frame sampling, and temporal interpolation of clips.

Datasets annotate onset, apex and offset, but not always well (SMIC has no apex), so the apex can be taken as the
middle of the expression or spotted as the frame that moved most from the onset. Sequence models need a fixed
number of frames, obtained by sampling or by blending neighbours; `flow_interpolate` goes further and synthesises
in-between frames along the optical flow, to stretch a few frames into a sequence (Choi et al.'s micro-expressions
made from the first three frames of macro-expression sequences).
"""

from __future__ import annotations

import cv2
import numpy as np

from mer_lightning.preprocess.flow import optical_flow

APEX_MOTIONS = ("absdiff", "farneback", "dis", "tvl1")


def middle_apex(onset: int, offset: int) -> int:
    """The frame halfway between onset and offset (rounded down), for datasets without an apex annotation."""
    if offset < onset:
        raise ValueError(f"offset {offset} comes before onset {onset}")
    return (onset + offset) // 2


def motion_scores(frames: np.ndarray, onset: int, offset: int, motion: str = "absdiff") -> np.ndarray:
    """How far each frame of onset..offset moved from the onset frame (one score per frame, the onset's 0).

    `motion="absdiff"` scores frames by mean absolute intensity difference (cheap, but lighting changes count);
    a flow method (`farneback`, `dis`, `tvl1`) scores them by mean optical-flow magnitude from the onset frame.
    """
    if not 0 <= onset <= offset < len(frames):
        raise ValueError(f"need 0 <= onset <= offset < {len(frames)}, got onset={onset} offset={offset}")
    if motion not in APEX_MOTIONS:
        raise ValueError(f"unknown apex motion {motion!r}; choose one of {APEX_MOTIONS}")
    reference = frames[onset]
    if motion == "absdiff":
        scores = [
            np.abs(frames[t].astype(np.float32) - reference.astype(np.float32)).mean() for t in range(onset, offset + 1)
        ]
    else:
        scores = [
            np.linalg.norm(optical_flow(reference, frames[t], motion), axis=-1).mean() for t in range(onset, offset + 1)
        ]
    return np.asarray(scores, dtype=np.float64)


def spot_apex(frames: np.ndarray, onset: int, offset: int, motion: str = "absdiff") -> int:
    """Index in `frames` of the frame in onset..offset that differs most from the onset frame (`motion_scores`).
    The first of equal scores wins, so a still clip gives the onset."""
    return onset + int(np.argmax(motion_scores(frames, onset, offset, motion)))


def sample_indices(length: int, n: int) -> np.ndarray:
    """n frame indices (int64, non-decreasing) spread evenly from the first to the last of `length` frames; indices
    repeat when n > length."""
    if length < 1 or n < 1:
        raise ValueError(f"need at least one frame and one sample, got length={length} n={n}")
    return np.linspace(0, length - 1, n).round().astype(np.int64)


def temporal_interpolate(frames: np.ndarray, n: int) -> np.ndarray:
    """(n, ...) float32 clip resampled to n frames evenly spaced over the original, each a linear blend of the two
    nearest frames (the first and last frames are kept)."""
    frames = np.asarray(frames, dtype=np.float32)
    if n < 1 or len(frames) < 1:
        raise ValueError(f"need at least one frame and n >= 1, got {len(frames)} frames and n={n}")
    positions = np.linspace(0, len(frames) - 1, n)
    lower = np.floor(positions).astype(np.int64)
    upper = np.minimum(lower + 1, len(frames) - 1)
    weight = (positions - lower).astype(np.float32).reshape((n,) + (1,) * (frames.ndim - 1))
    return (1 - weight) * frames[lower] + weight * frames[upper]


def flow_interpolate(frames: np.ndarray, n: int, method: str = "farneback") -> np.ndarray:
    """(n, H, W[, C]) uint8 clip resampled to n frames evenly spaced over the original, synthesising each frame that
    falls between two frames along the optical flow between them (frames at whole positions are kept as they are).

    With F the flow from frame t to frame t+1, the frame at t + tau blends frame t warped forward by tau F with frame
    t+1 warped back by (1 - tau) F, weighted (1 - tau) and tau. Warps are backward look-ups at the output pixel (the
    usual approximation that the flow is smooth), with edges replicated. Three frames made into nine keep the
    three at positions 0, 4 and 8 and synthesise three between each pair.
    """
    frames = np.asarray(frames)
    if n < 1 or len(frames) < 1:
        raise ValueError(f"need at least one frame and n >= 1, got {len(frames)} frames and n={n}")
    height, width = frames.shape[1:3]
    grid = np.stack(np.meshgrid(np.arange(width), np.arange(height)), axis=-1).astype(np.float32)
    flows: dict[int, np.ndarray] = {}
    out = []
    for position in np.linspace(0, len(frames) - 1, n):
        lower = int(np.floor(position + 1e-9))
        tau = float(position - lower)
        if tau < 1e-6 or lower + 1 >= len(frames):
            out.append(frames[min(lower, len(frames) - 1)].astype(np.float32))
            continue
        if lower not in flows:
            flows[lower] = optical_flow(frames[lower], frames[lower + 1], method)
        from_first = _warp(frames[lower].astype(np.float32), grid - tau * flows[lower])
        from_second = _warp(frames[lower + 1].astype(np.float32), grid + (1 - tau) * flows[lower])
        out.append((1 - tau) * from_first + tau * from_second)
    return np.clip(np.rint(np.stack(out)), 0, 255).astype(np.uint8).reshape((n, *frames.shape[1:]))


def _warp(image: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """image sampled bilinearly at (x, y) `positions` (H, W, 2)."""
    return cv2.remap(image, positions[..., 0], positions[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
