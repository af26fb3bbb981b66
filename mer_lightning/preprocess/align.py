"""Face alignment by the eyes: one similarity transform per clip, so faces line up without inventing motion.

The transform (rotation, uniform scale, translation) maps the two eye centres of a reference frame's landmarks to
fixed positions in an output face of a set size. Applying that same transform to every frame of the clip keeps the
face's own movement intact; aligning each frame to its own landmarks would instead absorb (or add) motion through
landmark jitter, which is of the order of a micro-expression.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# iBUG 68-point eye contours: 36-41 is the eye on the image's left for a frontal face (the subject's right eye).
FIRST_EYE = slice(36, 42)
SECOND_EYE = slice(42, 48)
# Eye centres as (x, y) fractions of the output width and height.
DEFAULT_EYE_POSITIONS = ((0.3, 0.35), (0.7, 0.35))


def _height_width(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """(2, 2) float64 centres (x, y) of points 36-41 and 42-47, in that order."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    return np.stack([landmarks[FIRST_EYE].mean(axis=0), landmarks[SECOND_EYE].mean(axis=0)])


def similarity_from_two_points(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(2, 3) float64 matrix of the similarity mapping the two source points exactly onto the two target points.

    As complex numbers z -> a z + b with a = (t1 - t0) / (s1 - s0): a's modulus is the scale, its argument the
    rotation, and no reflection is possible.
    """
    s = np.asarray(source, dtype=np.float64) @ [1, 1j]
    t = np.asarray(target, dtype=np.float64) @ [1, 1j]
    if s[1] == s[0]:
        raise ValueError("similarity transform: the two source points coincide")
    a = (t[1] - t[0]) / (s[1] - s[0])
    b = t[0] - a * s[0]
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def eye_alignment_transform(
    landmarks: np.ndarray,
    size: int | Sequence[int],
    eye_positions: Sequence[Sequence[float]] = DEFAULT_EYE_POSITIONS,
) -> np.ndarray:
    """(2, 3) similarity taking the eye centres of `landmarks` (68, 2) to `eye_positions` in a face of `size`.

    `size` is an int (square) or (height, width); `eye_positions` are the (x, y) fractions of width and height where
    the centre of points 36-41 and of points 42-47 land.
    """
    height, width = _height_width(size)
    target = np.asarray(eye_positions, dtype=np.float64) * [width, height]
    return similarity_from_two_points(eye_centres(landmarks), target)


def transform_points(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Points (..., 2) (x, y) mapped by a (2, 3) affine transform, as float32."""
    points = np.asarray(points, dtype=np.float64)
    return (points @ transform[:, :2].T + transform[:, 2]).astype(np.float32)


def align_clip(
    frames: np.ndarray,
    reference_landmarks: np.ndarray,
    size: int | Sequence[int],
    eye_positions: Sequence[Sequence[float]] = DEFAULT_EYE_POSITIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, H, W[, C]) warped by ONE eye-alignment transform computed from `reference_landmarks` (68, 2).

    Returns the aligned frames (T, height, width[, C]) in the input dtype, bilinear with black outside the source,
    and the (2, 3) transform, so landmarks can follow with `transform_points`. Pass a single image as `image[None]`.
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4):
        raise ValueError(f"align_clip needs frames (T, H, W[, C]), got shape {frames.shape}")
    height, width = _height_width(size)
    transform = eye_alignment_transform(reference_landmarks, (height, width), eye_positions)
    aligned = np.stack(
        [
            cv2.warpAffine(frame, transform, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            for frame in frames
        ]
    )
    return aligned.reshape((len(frames), height, width) + frames.shape[3:]), transform
