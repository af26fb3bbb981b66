"""Facial regions as separate images: boxes around landmark groups, and Aouayeb et al.'s six fixed regions.

A micro-expression moves a small part of the face; region models look at those parts at full resolution. For a
clip the boxes come from ONE set of landmarks (a reference frame) and cut every frame, so what moves inside a
region stays visible instead of being followed by the box.

Side names are the subject's, as in dlib/imutils: `right_eye` is points 36-41, on the image's left for a frontal
face; `left_eye` is points 42-47.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# iBUG 68-point groups. The cheeks have no landmarks of their own: each is the area between the lower eyelid, the
# jaw, the nose wing and the mouth corner on that side (our choice of points).
LANDMARK_GROUPS: dict[str, tuple[int, ...]] = {
    "right_brow": tuple(range(17, 22)),
    "left_brow": tuple(range(22, 27)),
    "nose": tuple(range(27, 36)),
    "right_eye": tuple(range(36, 42)),
    "left_eye": tuple(range(42, 48)),
    "mouth": tuple(range(48, 68)),
    "right_cheek": (1, 2, 3, 31, 40, 41, 48),
    "left_cheek": (13, 14, 15, 35, 46, 47, 54),
}

# Aouayeb et al. (2021), "Micro-expression recognition from local facial regions", Signal Processing: Image
# Communication 99, 116457. Boxes (x0, y0, x1, y1), end exclusive, on a face 240 wide and 280 high, copied from the
# authors' released `crop_6_ROIs.py` (github.com/MouathAb/AnalyseMiE-CNN_LSTM_SE), where they are written as
# [x0, x1, y0, y1] and applied with PIL's crop. Names are ours: the code only numbers them 0-5.
AOUAYEB_FACE_SIZE = (280, 240)  # (height, width)
AOUAYEB_REGIONS: dict[str, tuple[int, int, int, int]] = {
    "right_brow_eye": (0, 20, 100, 100),
    "left_brow_eye": (140, 20, 240, 100),
    "nose": (60, 80, 180, 160),
    "right_cheek": (0, 120, 60, 180),
    "left_cheek": (180, 120, 240, 180),
    "mouth": (40, 180, 200, 240),
}


def _height_width(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def _as_stack(frames_or_image: np.ndarray) -> tuple[np.ndarray, tuple[int, ...], bool]:
    """(N, H, W, C) view of an image (H, W), (H, W, C) or clip (T, H, W, C), its leading shape, and whether it had C."""
    array = np.asarray(frames_or_image)
    if array.ndim == 2:
        return array[None, ..., None], (), False
    if array.ndim == 3:
        return array[None], (), True
    if array.ndim == 4:
        return array, (len(array),), True
    raise ValueError(f"expected an image (H, W[, C]) or frames (T, H, W, C), got shape {array.shape}")


def landmark_box(
    landmarks: np.ndarray, indices: Sequence[int], margin: float = 0.2, square: bool = True
) -> tuple[float, float, float, float]:
    """Box (x0, y0, x1, y1) around the given landmarks, grown by `margin` x its size on every side.

    With `square` the shorter side grows to the longer one around the same centre, so resizing the crop to a square
    does not stretch it (an eye box is three times wider than high).
    """
    points = np.asarray(landmarks, dtype=np.float64)[list(indices)]
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    width, height = x1 - x0, y1 - y0
    if square:
        width = height = max(width, height)
    width, height = width * (1 + 2 * margin), height * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def _crop_stack(stack: np.ndarray, box: Sequence[float], size: tuple[int, int]) -> np.ndarray:
    """(N, h, w, C) crop of (N, H, W, C) frames to the pixels covering `box`, zero outside, resized to `size`."""
    x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
    x1, y1 = max(int(np.ceil(box[2])), x0 + 1), max(int(np.ceil(box[3])), y0 + 1)
    _, height, width, _ = stack.shape
    inside = stack[:, max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    pad = ((0, 0), (max(-y0, 0), max(y1 - height, 0)), (max(-x0, 0), max(x1 - width, 0)), (0, 0))
    patch = np.pad(inside, pad) if any(p != (0, 0) for p in pad) else inside
    out_h, out_w = size
    shrinking = out_h <= patch.shape[1] and out_w <= patch.shape[2]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = [cv2.resize(frame, (out_w, out_h), interpolation=interpolation) for frame in patch]
    return np.stack([r.reshape(out_h, out_w, -1) for r in resized])


def crop_boxes(frames_or_image: np.ndarray, boxes: Sequence[Sequence[float]], size: int | Sequence[int]) -> np.ndarray:
    """(R, [T,] h, w[, C]) crops of an image or clip, one per box (x0, y0, x1, y1), zero where a box leaves the image.

    A box covers the whole pixels it touches (its edges are rounded outwards).
    """
    stack, lead, has_channels = _as_stack(frames_or_image)
    out_size = _height_width(size)
    crops = np.stack([_crop_stack(stack, box, out_size) for box in boxes])
    shape = (len(boxes), *lead, *out_size) + ((stack.shape[-1],) if has_channels else ())
    return crops.reshape(shape)


def crop_regions(
    frames_or_image: np.ndarray,
    landmarks: np.ndarray,
    names: Sequence[str],
    size: int | Sequence[int],
    margin: float = 0.2,
    square: bool = True,
) -> np.ndarray:
    """(R, [T,] size, size[, C]) crops around the named landmark groups of one set of landmarks (68, 2).

    Names are keys of `LANDMARK_GROUPS`; for a clip pass the reference frame's landmarks.
    """
    unknown = [name for name in names if name not in LANDMARK_GROUPS]
    if unknown:
        raise ValueError(f"unknown regions {unknown}; choose from {list(LANDMARK_GROUPS)}")
    boxes = [landmark_box(landmarks, LANDMARK_GROUPS[name], margin, square) for name in names]
    return crop_boxes(frames_or_image, boxes, size)


def aouayeb_face(frames_or_image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 280 x 240 face Aouayeb et al.'s regions are defined on, from an image or clip and one landmark set.

    As in their code: the box spans x from point 17 to point 26 (outer brow ends) and y from the higher of points 18
    and 25 (brows) to point 8 (chin); it is resized keeping its aspect ratio to fit 240 x 280 and centred. Two
    deliberate differences: small faces are enlarged too (their PIL `thumbnail` only shrinks), and the padding is
    black (theirs is transparent white).
    """
    stack, lead, has_channels = _as_stack(frames_or_image)
    points = np.asarray(landmarks, dtype=np.float64)
    x0, x1 = points[17, 0], points[26, 0]
    y0, y1 = min(points[18, 1], points[25, 1]), points[8, 1]
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"Aouayeb face box is empty: x {x0:.1f}..{x1:.1f}, y {y0:.1f}..{y1:.1f}")
    height, width = AOUAYEB_FACE_SIZE
    scale = min(width / (x1 - x0), height / (y1 - y0))
    fit_w, fit_h = min(width, max(1, round((x1 - x0) * scale))), min(height, max(1, round((y1 - y0) * scale)))
    crop = _crop_stack(stack, (x0, y0, x1, y1), (fit_h, fit_w))
    face = np.zeros((len(stack), height, width, stack.shape[-1]), dtype=stack.dtype)
    left, top = int(np.ceil((width - fit_w) / 2)), int(np.ceil((height - fit_h) / 2))
    face[:, top : top + fit_h, left : left + fit_w] = crop
    return face.reshape((*lead, height, width) + ((stack.shape[-1],) if has_channels else ()))
