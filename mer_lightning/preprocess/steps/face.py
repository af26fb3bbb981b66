"""Steps on the face: its landmarks (annotated or detected) and alignment."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mer_lightning.preprocess.align import DEFAULT_EYE_POSITIONS, align_clip, transform_points
from mer_lightning.preprocess.landmarks import (
    NUM_LANDMARKS,
    DlibLandmarks,
    FanLandmarks,
    LandmarkDetector,
    LandmarkError,
)
from mer_lightning.preprocess.sample import PreprocessError, Sample, key_position
from mer_lightning.preprocess.steps.common import check_choice, check_size, reference_landmarks

_DETECTORS: dict[str, type[LandmarkDetector]] = {"dlib": DlibLandmarks, "fan": FanLandmarks}
LANDMARK_BACKENDS = ("annotation", *_DETECTORS)


@functools.lru_cache(maxsize=4)
def _detector(backend: str, options: str) -> LandmarkDetector:
    """One detector per process and setting: models load once, not once per clip."""
    return _DETECTORS[backend](**json.loads(options))


def _frame_file(sample: Sample, index: int):
    return sample["clip"].frames[int(round(sample["frame_positions"][index]))]


@dataclass(frozen=True)
class Landmarks:
    """68 iBUG points into `landmarks`: of the onset frame (68, 2), or of every loaded frame (T, 68, 2) with `track`.

    Backends: `annotation` reads the clip's landmarks ((T, 68, 2) or (68, 2), with the reader's parser of its
    release's files: `Clip.read_landmarks`), interpolated to the loaded frames; `dlib` and `fan` detect (`options`
    go to `DlibLandmarks` / `FanLandmarks`, e.g. `predictor_path`, `upsample`; `torch_home`, `face_detector`,
    `device`). Detection runs on the onset frame only,
    or on every frame with `track`.
    """

    backend: str = "annotation"
    track: bool = False
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("backend", [self.backend], LANDMARK_BACKENDS)
        allowed = set()
        if self.backend in _DETECTORS:
            allowed = set(inspect.signature(_DETECTORS[self.backend].__init__).parameters) - {"self"}
        unknown = sorted(set(self.options) - allowed)
        if unknown:
            raise ValueError(
                f"preprocessing: options {unknown} not understood by landmark backend {self.backend!r}; "
                f"choose from {sorted(allowed)}"
            )

    def __call__(self, sample: Sample) -> Sample:
        onset = key_position(sample, "onset")
        if self.backend == "annotation":
            sample["landmarks"] = self._annotated(sample, onset)
            return sample
        detector = _detector(self.backend, json.dumps(self.options, sort_keys=True))
        indices = range(len(sample["frames"])) if self.track else [onset]
        points = []
        for i in indices:
            try:
                points.append(detector.detect(sample["frames"][i]))
            except LandmarkError as err:
                raise PreprocessError(f"{_frame_file(sample, i)}: {err}") from err
        sample["landmarks"] = np.stack(points) if self.track else points[0]
        return sample

    def _annotated(self, sample: Sample, onset: int) -> np.ndarray:
        clip = sample["clip"]
        if clip.landmarks is None:
            raise PreprocessError("has no landmark file; use landmark backend dlib or fan")
        try:
            points = np.asarray(clip.read_landmarks(clip.landmarks), dtype=np.float32)
        except (OSError, ValueError) as err:
            raise PreprocessError(f"landmarks {clip.landmarks}: {err}") from err
        if points.shape[-2:] != (NUM_LANDMARKS, 2) or points.ndim not in (2, 3):
            raise PreprocessError(
                f"landmarks {clip.landmarks}: expected (68, 2) or (T, 68, 2) points, got {points.shape}"
            )
        if points.ndim == 2:
            if self.track:
                raise PreprocessError(f"{clip.landmarks} holds one frame's landmarks; track: true needs every frame's")
            return points
        if len(points) != clip.num_frames:
            raise PreprocessError(
                f"{clip.landmarks} holds landmarks of {len(points)} frames, the clip has {clip.num_frames}"
            )
        positions = sample["frame_positions"] if self.track else sample["frame_positions"][[onset]]
        lower = np.floor(positions).astype(np.int64)
        upper = np.minimum(lower + 1, len(points) - 1)
        weight = (positions - lower)[:, None, None]
        tracked = ((1 - weight) * points[lower] + weight * points[upper]).astype(np.float32)
        return tracked if self.track else tracked[0]


@dataclass(frozen=True)
class Align:
    """Warps every frame by ONE similarity taking the onset frame's eye centres to `eye_positions` (x, y fractions)
    in a face of `size` (height, width), so alignment adds no motion; landmarks follow the same transform."""

    size: Sequence[int] = (224, 224)
    eye_positions: Sequence[Sequence[float]] = DEFAULT_EYE_POSITIONS

    def __post_init__(self) -> None:
        check_size("size", self.size)
        if np.shape(self.eye_positions) != (2, 2):
            raise ValueError(f"preprocessing: eye_positions must be two (x, y) pairs, got {self.eye_positions!r}")

    def __call__(self, sample: Sample) -> Sample:
        reference = reference_landmarks(sample)
        try:
            frames, transform = align_clip(sample["frames"], reference, self.size, self.eye_positions)
        except ValueError as err:  # the eye centres coincide: the landmarks are not a face
            raise PreprocessError(f"cannot align: {err}") from err
        sample["frames"] = frames
        sample["landmarks"] = transform_points(sample["landmarks"], transform)
        return sample
