"""68-point facial landmarks (iBUG order, (x, y) pixels) from interchangeable backends.

Every backend answers `detect(image) -> (68, 2) float32` and raises `LandmarkError`, naming what failed, when it
cannot: alignment, regions and landmark features then never see a silently wrong face. Backends:

* `DlibLandmarks`: dlib's HOG face detector and the 68-point shape predictor shipped by `face-recognition-models`;
  offline, fast, whole-pixel points.
* `FanLandmarks`: face-alignment's FAN with one of its face detectors; sub-pixel points, needs weight files that
  face-alignment would otherwise download: they are checked before anything is built, and never downloaded here.

Points that ship with a dataset are read by its reader's parser (`Clip.read_landmarks`), not here.
"""

from __future__ import annotations

import importlib.util
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import dlib
import numpy as np

NUM_LANDMARKS = 68
DLIB_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


class LandmarkError(RuntimeError):
    """Landmarks could not be had: no face found, a model file missing, annotations not matching the frames."""


class LandmarkDetector(ABC):
    """One interface for every backend: 68 (x, y) points per image."""

    @abstractmethod
    def detect(self, image: np.ndarray) -> np.ndarray:
        """(68, 2) float32 landmarks of the face in an RGB (H, W, 3) or grey (H, W) uint8 image."""


def _uint8_image(image: np.ndarray) -> np.ndarray:
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 image (H, W) or (H, W, 3), got {image.dtype} {image.shape}")
    return image


# --- dlib ----------------------------------------------------------------------------------------------------------


def default_dlib_predictor_path() -> Path:
    """Where `face-recognition-models` keeps dlib's 68-point predictor (found without importing the package, whose
    import fails on a missing `pkg_resources`)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkError(
            "dlib landmarks: package face_recognition_models is not installed (pip install face-recognition-models),"
            f" and no predictor_path was given for {DLIB_PREDICTOR_FILE}"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models" / DLIB_PREDICTOR_FILE


class DlibLandmarks(LandmarkDetector):
    """dlib's frontal (HOG) face detector, then its 68-point shape predictor on the best-scoring face.

    `upsample` enlarges the image that many times before detection, to find faces smaller than ~80 pixels.
    """

    def __init__(self, predictor_path: str | os.PathLike | None = None, upsample: int = 1) -> None:
        path = Path(predictor_path) if predictor_path is not None else default_dlib_predictor_path()
        if not path.is_file():
            raise LandmarkError(f"dlib landmarks: shape predictor {path} does not exist")
        self.predictor_path = path
        self.upsample = upsample
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(path))

    def face_box(self, image: np.ndarray) -> np.ndarray:
        """(4,) float32 box (x0, y0, x1, y1) of the highest-scoring face."""
        image = _uint8_image(image)
        rectangles, scores, _ = self._detector.run(image, self.upsample, 0.0)
        if not rectangles:
            raise LandmarkError(
                f"dlib landmarks: the frontal face detector found no face in the {image.shape[1]}x{image.shape[0]}"
                f" image (upsample={self.upsample})"
            )
        best = rectangles[int(np.argmax(scores))]
        return np.array([best.left(), best.top(), best.right(), best.bottom()], dtype=np.float32)

    def detect(self, image: np.ndarray) -> np.ndarray:
        image = _uint8_image(image)
        x0, y0, x1, y1 = (int(v) for v in self.face_box(image))
        shape = self._predictor(image, dlib.rectangle(x0, y0, x1, y1))
        return np.array([[shape.part(i).x, shape.part(i).y] for i in range(NUM_LANDMARKS)], dtype=np.float32)


# --- face-alignment (FAN) ------------------------------------------------------------------------------------------

# Keys of each face detector's `models_urls` in face-alignment; other detectors need an explicit path_to_detector.
_DETECTOR_WEIGHTS = {
    "sfd": ("face_alignment.detection.sfd.sfd_detector", ("s3fd",)),
    "retinaface": ("face_alignment.detection.retinaface.retinaface_detector", ("retinaface_mobilenet0.25",)),
    "blazeface": ("face_alignment.detection.blazeface.blazeface_detector", ("blazeface_weights", "blazeface_anchors")),
}
_BLAZEFACE_BACK = ("blazeface_back_weights", "blazeface_back_anchors")


def fan_weight_urls(face_detector: str = "sfd", face_detector_kwargs: Mapping | None = None) -> list[str]:
    """URLs of the files face-alignment loads for 2-D FAN with this detector, read from face-alignment itself.

    Each is looked up in `<torch hub dir>/checkpoints/` under its URL's file name. A detector given an explicit
    `path_to_detector` needs no URL.
    """
    from face_alignment import api

    kwargs = dict(face_detector_kwargs or {})
    urls = [api.models_urls["2DFAN-4"]]
    if "path_to_detector" in kwargs:
        return urls
    if face_detector not in _DETECTOR_WEIGHTS:
        raise ValueError(
            f"FAN landmarks: weight files of face detector {face_detector!r} are not known here; use one of "
            f"{sorted(_DETECTOR_WEIGHTS)} or pass face_detector_kwargs={{'path_to_detector': ...}}"
        )
    module_name, keys = _DETECTOR_WEIGHTS[face_detector]
    if face_detector == "blazeface" and kwargs.get("back_model"):
        keys = _BLAZEFACE_BACK
    detector_urls = importlib.import_module(module_name).models_urls
    return urls + [detector_urls[key] for key in keys]


def url_file_name(url: str) -> str:
    """The file name torch.hub and face-alignment store a download under (the URL path's last part)."""
    return os.path.basename(urlparse(url).path)


@contextmanager
def _torch_home(torch_home: str | os.PathLike | None) -> Iterator[None]:
    """TORCH_HOME set for the duration (face-alignment reads it at load time), then restored."""
    if torch_home is None:
        yield
        return
    previous = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(torch_home)
    try:
        yield
    finally:
        if previous is None:
            del os.environ["TORCH_HOME"]
        else:
            os.environ["TORCH_HOME"] = previous


def heatmaps_to_points(heatmaps: np.ndarray, center: Sequence[float], scale: float) -> np.ndarray:
    """(B, N, 2) float32 image points from FAN heatmaps (B, N, H, W) of a crop at `center`, `scale`.

    face-alignment's own decoding (`utils.get_preds_fromhm`): the arg-max pixel, moved a quarter pixel towards the
    higher neighbour on each axis, less half a pixel, mapped back through the crop (side 200 x scale pixels around
    `center`). Unlike face-alignment, the result is not truncated to whole pixels, which would hide the sub-pixel
    motion a micro-expression is made of.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    batch, count, height, width = heatmaps.shape
    peak = heatmaps.reshape(batch, count, height * width).argmax(axis=-1)
    y, x = np.divmod(peak, width)
    b, n = np.indices((batch, count))
    xc, yc = np.clip(x, 1, width - 2), np.clip(y, 1, height - 2)
    slope = np.stack(
        [
            heatmaps[b, n, yc, xc + 1] - heatmaps[b, n, yc, xc - 1],
            heatmaps[b, n, yc + 1, xc] - heatmaps[b, n, yc - 1, xc],
        ],
        axis=-1,
    )
    interior = ((x > 0) & (x < width - 1) & (y > 0) & (y < height - 1))[..., None]
    points = np.stack([x, y], axis=-1) + 0.5 + 0.25 * np.sign(slope) * interior
    side = 200.0 * scale
    return ((points - height / 2) * side / height + np.asarray(center, dtype=np.float64)).astype(np.float32)


class FanLandmarks(LandmarkDetector):
    """face-alignment's 2-D FAN on the best face of one of its detectors, on CPU by default, without downloads.

    Weights are read from `<torch_home>/hub/checkpoints/` (default: torch's hub directory, i.e. $TORCH_HOME or
    ~/.cache/torch) under face-alignment's file names; missing files raise `LandmarkError` naming them, the folder
    and the URLs to fetch them from, before any model is built. `torch_home` is applied by setting TORCH_HOME while
    the models load (process-wide, so do not build two at once from different threads).
    """

    def __init__(
        self,
        torch_home: str | os.PathLike | None = None,
        face_detector: str = "sfd",
        device: str = "cpu",
        face_detector_kwargs: Mapping | None = None,
    ) -> None:
        import face_alignment
        import torch

        kwargs = dict(face_detector_kwargs or {})
        with _torch_home(torch_home):
            checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
            urls = fan_weight_urls(face_detector, kwargs)
            missing = [url for url in urls if not (checkpoints / url_file_name(url)).is_file()]
            given = [value for key, value in kwargs.items() if key.startswith("path_to_") and value is not None]
            missing_paths = [str(path) for path in given if not Path(path).is_file()]
            problems = []
            if missing:
                problems.append(
                    f"missing weight file(s) {', '.join(url_file_name(url) for url in missing)} in {checkpoints}; "
                    f"download {', '.join(missing)} into that folder, or point torch_home (TORCH_HOME) at a folder "
                    "whose hub/checkpoints holds them"
                )
            if missing_paths:
                problems.append(f"missing file(s) {', '.join(missing_paths)} named in face_detector_kwargs")
            if problems:
                raise LandmarkError("FAN landmarks: " + "; ".join(problems))
            self._fa = face_alignment.FaceAlignment(
                face_alignment.LandmarksType.TWO_D,
                device=device,
                flip_input=False,
                face_detector=face_detector,
                face_detector_kwargs=kwargs,
                compile=False,
            )
        self.face_detector = face_detector
        self.device = device

    def detect(self, image: np.ndarray) -> np.ndarray:
        import torch
        from face_alignment.utils import CENTER_Y_OFFSET, crop

        image = _uint8_image(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        boxes = self._fa.face_detector.detect_from_image(image.copy())
        if len(boxes) == 0:
            raise LandmarkError(
                f"FAN landmarks: the {self.face_detector} face detector found no face in the "
                f"{image.shape[1]}x{image.shape[0]} image"
            )
        # Detectors that score their boxes put the score fifth; otherwise take the largest box.
        best = max(boxes, key=lambda d: d[4] if len(d) > 4 else (d[2] - d[0]) * (d[3] - d[1]))
        x0, y0, x1, y1 = (float(v) for v in best[:4])
        # Crop exactly as FaceAlignment.get_landmarks_from_image does.
        center = np.array([(x0 + x1) / 2, (y0 + y1) / 2 - (y1 - y0) * CENTER_Y_OFFSET])
        scale = (x1 - x0 + y1 - y0) / self._fa.face_detector.reference_scale
        patch = crop(image, center, scale).transpose(2, 0, 1).astype(np.float32) / 255.0
        with torch.no_grad():
            heatmaps = self._fa.face_alignment_net(torch.from_numpy(patch)[None].to(self.device))
        if isinstance(heatmaps, list):
            heatmaps = heatmaps[-1]
        return heatmaps_to_points(heatmaps.float().cpu().numpy(), center, scale)[0]
