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
    """LMF maps (N, M, M) as 0..255 float32 images, each normalised by its own m_t = max |LMF_t|.

    128 sqrt(LMF / m_t) + 127 where positive, -128 sqrt(|LMF| / m_t) + 127 where negative, 127 where zero; the square
    root lifts the many small changes of a micro-expression out of the dark. A map without change is all 127, and the
    most negative value (-1) is clipped to 0.
    """
    maps = np.asarray(maps, dtype=np.float64)
    peak = np.abs(maps).max(axis=(-2, -1), keepdims=True)
    ratio = np.divide(np.abs(maps), peak, out=np.zeros_like(maps), where=peak > 0)
    images = 127.0 + 128.0 * np.sign(maps) * np.sqrt(ratio)
    return np.clip(images, 0.0, 255.0).astype(np.float32)


def sfem_intensity(landmarks: np.ndarray) -> float:
    """SFEM intensity of a clip: mean over its T-1 LMF maps of sum_ij |LMF_t(i, j)|, over face width x nose length.

    Face width is ||p_0 - p_16|| and nose length ||p_27 - p_33||, both on the first frame. Choi et al. report 1.83 for
    a general (macro) expression and 0.20 for a micro one. The numerator is a length and the normaliser an area, so
    the value scales as 1/s when the face is scaled by s: it is only comparable between faces of the size the paper
    measured (translation and in-plane rotation do not change it).
    """
    maps = landmark_feature_maps(landmarks)
    first = np.asarray(landmarks, dtype=np.float64)[0]
    width = np.linalg.norm(first[FACE_WIDTH_POINTS[0]] - first[FACE_WIDTH_POINTS[1]])
    nose = np.linalg.norm(first[NOSE_LENGTH_POINTS[0]] - first[NOSE_LENGTH_POINTS[1]])
    if width * nose == 0:
        raise ValueError("SFEM intensity: face width or nose length is zero on the first frame")
    change = np.abs(maps.astype(np.float64)).sum(axis=(-2, -1)).mean()
    return float(change / (width * nose))
