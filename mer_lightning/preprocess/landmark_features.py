"""Choi et al.'s 2-D landmark feature maps (LMF) and the SFEM intensity of an expression.

A landmark feature map turns the motion of the 68 landmarks between two frames into an image a CNN can read:
LMF_t(i, j) = ||p_i(t) - p_j(t)|| - ||p_i(t-1) - p_j(t-1)||, how much the distance between landmarks i and j grew
from frame t-1 to frame t. Distances ignore where the face is and how it is turned in the image plane, so only the
deformation of the face remains. T frames give T-1 maps of M x M (M = 68).
"""

from __future__ import annotations

import numpy as np

# iBUG 68-point indices of the SFEM normaliser: the jaw's ends (face width) and the nose from bridge to tip.
FACE_WIDTH_POINTS = (0, 16)
NOSE_LENGTH_POINTS = (27, 33)


def pairwise_distances(points: np.ndarray) -> np.ndarray:
    """(..., M, M) float64 Euclidean distances between the M points of each (..., M, 2) set."""
    points = np.asarray(points, dtype=np.float64)
    return np.linalg.norm(points[..., :, None, :] - points[..., None, :, :], axis=-1)


def landmark_feature_maps(landmarks: np.ndarray) -> np.ndarray:
    """(T-1, M, M) float32 LMF of landmarks (T, M, 2): change of every pairwise distance between consecutive frames.

    Each map is symmetric with a zero diagonal; positive where two landmarks moved apart.
    """
    landmarks = np.asarray(landmarks)
    if landmarks.ndim != 3 or landmarks.shape[-1] != 2 or len(landmarks) < 2:
        raise ValueError(f"landmark feature maps need landmarks (T >= 2, M, 2), got {landmarks.shape}")
    return np.diff(pairwise_distances(landmarks), axis=0).astype(np.float32)


def normalize_feature_maps(maps: np.ndarray) -> np.ndarray:
    """LMF maps (N, M, M) as images, each by Choi et al.'s formula with its own m_t = max |LMF_t|:
    128 (LMF / m_t)^0.5 + 127 where positive, -128 (|LMF| / m_t)^0.5 + 127 where negative, 127 where zero.

    The square root lifts the many small changes of a micro-expression out of the dark, and dividing by the frame's
    own peak makes a faint motion's map as bright as a strong one's: what the LMF model carries from general
    expressions to micro-expressions. Values lie in -1..255 (the formula gives -1 where a map's largest change is a
    shrinking distance; kept as it is, float32). A map without change is all 127.
    """
    maps = np.asarray(maps, dtype=np.float64)
    peak = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    ratio = np.divide(np.abs(maps), peak, out=np.zeros_like(maps), where=peak > 0)
    return (127.0 + 128.0 * np.sign(maps) * np.sqrt(ratio)).astype(np.float32)


def sfem_intensity(landmarks: np.ndarray) -> float:
    """SFEM, the size of an expression: the mean over the clip's N = T-1 LMF maps of sum_ij |LMF_t(i, j)|, each map
    divided by the face size of its frame t, sqrt(||p_1 - p_17|| x ||p_28 - p_34||) (face width x nose length, iBUG
    points 1-based).

    Choi et al. print the normaliser as the product of the two lengths, an area: a length over an area scales as
    1/s when the face is scaled by s, so a small face would look more intense than a large one making the same
    expression, against the paper's own "scale-free". Dividing by the square root of that area (their geometric
    mean, a length) makes it scale-free; values are then about 100 times the paper's on CK+-sized faces (its 1.83
    for a general expression and 0.20 for a micro one are not comparable), which does not matter where a threshold
    is chosen on training data. Translation and in-plane rotation do not change it either.
    """
    maps = landmark_feature_maps(landmarks)
    points = np.asarray(landmarks, dtype=np.float64)[1:]
    width = np.linalg.norm(points[:, FACE_WIDTH_POINTS[0]] - points[:, FACE_WIDTH_POINTS[1]], axis=-1)
    nose = np.linalg.norm(points[:, NOSE_LENGTH_POINTS[0]] - points[:, NOSE_LENGTH_POINTS[1]], axis=-1)
    if not np.all(width * nose > 0):
        raise ValueError("SFEM intensity: face width or nose length is zero on a frame")
    change = np.abs(maps.astype(np.float64)).sum(axis=(-2, -1))
    return float(np.mean(change / np.sqrt(width * nose)))
