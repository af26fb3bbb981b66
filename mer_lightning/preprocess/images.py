"""Reading frames: decoded strictly, so that a damaged file stops its clip instead of feeding it garbage.

A truncated JPEG decodes "successfully" in most readers (OpenCV's prints libjpeg's "Premature end of JPEG file" on
stderr and returns the image with its missing part grey); here JPEG files are decoded by libjpeg-turbo with its
warnings raised as errors (`simplejpeg`, the same pixels as OpenCV's decoder), other formats by OpenCV, which refuses
a truncated PNG or BMP. Every failure is a `PreprocessError` naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import simplejpeg

from mer_lightning.preprocess.sample import PreprocessError

JPEG_START = b"\xff\xd8\xff"  # a JPEG file by its content, whatever its name


def read_image(path: str | Path, channel_order: str = "rgb") -> np.ndarray:
    """(H, W, 3) uint8 image in the asked channel order (`bgr` is what `cv2.imread` returns)."""
    if channel_order not in ("rgb", "bgr"):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise PreprocessError(f"cannot read image {path}: {err.strerror or err}") from None
    if data.startswith(JPEG_START):
        try:
            rgb = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
        except ValueError as err:
            raise PreprocessError(f"image {path} is damaged: {err}") from None
        return rgb if channel_order == "rgb" else np.ascontiguousarray(rgb[..., ::-1])
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if image is None:
        raise PreprocessError(f"cannot read image {path}: not an image OpenCV decodes, or truncated")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if channel_order == "rgb" else image


def read_frames(paths: Sequence[Path], indices: Sequence[int]) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames of a clip (`paths`) at these indices; frames of different sizes name the
    culprit."""
    images = [read_image(paths[i]) for i in indices]
    for i, image in zip(indices, images):
        if image.shape != images[0].shape:
            raise PreprocessError(
                f"frame {paths[i]} is {image.shape[1]}x{image.shape[0]}, but {paths[indices[0]]} is "
                f"{images[0].shape[1]}x{images[0].shape[0]}"
            )
    return np.stack(images)
