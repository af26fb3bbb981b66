"""The configurable steps of a preprocessing pipeline.

A step is a frozen dataclass: its fields are its settings (and so part of the cache key; anything built from them,
such as a landmark detector, lives outside the step) and `__call__` takes the sample dict (`{"clip": Clip, ...}`)
and returns it with what the step adds or changes. Settings are checked when the step is made, so a bad config fails
before any clip is read and names the setting; a clip that cannot be processed raises `PreprocessError` naming it.

What steps share in the sample:
- `frames` (T, H, W, C) uint8 RGB, the loaded frames; `frame_positions` (T,) float64, the clip frame each one is
  (fractional for interpolated frames); `key_positions` {"onset"|"apex"|"offset": index into `frames`}, so later
  steps find the key frames whichever loader ran.
- `landmarks` (68, 2) for the onset frame, or (T, 68, 2) when tracked on every loaded frame, in `frames` pixels.
- model inputs under each step's `output` key: (C, H, W) float32, (T, C, H, W) for sequences, (R, ...) for regions.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from mer_lightning.preprocess.align import DEFAULT_EYE_POSITIONS, align_clip, transform_points
from mer_lightning.preprocess.difference import frame_difference
from mer_lightning.preprocess.dynamic_image import VARIANTS, dynamic_image
from mer_lightning.preprocess.flow import FLOW_CHANNELS, FLOW_METHODS, flow_features, minmax_per_channel, optical_flow
from mer_lightning.preprocess.keyframes import APEX_MOTIONS, middle_apex, sample_indices, spot_apex, temporal_interpolate
from mer_lightning.preprocess.landmark_features import landmark_feature_maps, normalize_feature_maps
from mer_lightning.preprocess.landmarks import DlibLandmarks, FanLandmarks, LandmarkDetector, LandmarkError, load_landmarks
from mer_lightning.preprocess.magnify import PYRAMIDS, TEMPORAL_FILTERS, magnify
from mer_lightning.preprocess.regions import (
    AOUAYEB_REGIONS,
    LANDMARK_GROUPS,
    aouayeb_face,
    crop_boxes,
    crop_regions,
)

Sample = dict[str, Any]
KEY_FRAMES = ("onset", "apex", "offset")


class PreprocessError(RuntimeError):
    """A clip could not be turned into model inputs; the message names the clip and the file or setting."""


def read_image(path, channel_order: str = "rgb") -> np.ndarray:
    """(H, W, 3) uint8 image in the asked channel order (`bgr` is what `cv2.imread` returns)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PreprocessError(f"cannot read image {path}")
    if channel_order == "rgb":
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if channel_order == "bgr":
        return image
    raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")


def _check(setting: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"preprocessing: {setting} {unknown} not understood; choose from {list(allowed)}")


def _check_size(setting: str, size: Sequence[int] | None, optional: bool = False) -> None:
    if size is None and optional:
        return
    if size is None or len(size) != 2 or any(int(s) != s or s < 1 for s in size):
        raise ValueError(f"preprocessing: {setting} must be two positive integers (height, width), got {size!r}")


def _read_frames(clip, indices: Sequence[int]) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames of the clip at these indices; frames of different sizes name the culprit."""
    images = [read_image(clip.frames[i]) for i in indices]
    for i, image in zip(indices, images):
        if image.shape != images[0].shape:
            raise PreprocessError(
                f"frame {clip.frames[i]} is {image.shape[1]}x{image.shape[0]}, but {clip.frames[indices[0]]} is "
                f"{images[0].shape[1]}x{images[0].shape[0]}"
            )
    return np.stack(images)


def key_position(sample: Sample, key: str) -> int:
    """Index into `frames` of a key frame, as the loader recorded it."""
    positions = sample.get("key_positions", {})
    if key not in positions:
        raise ValueError(
            f"preprocessing: key frame {key!r} is not among the loaded frames ({sorted(positions)}); load it with "
            "LoadKeyFrames keys or LoadFrames"
        )
    return positions[key]


def key_frame(sample: Sample, key: str) -> np.ndarray:
    return sample["frames"][key_position(sample, key)]


def _resize(image: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """(..., H, W) float32 array resized on its last two axes to `size` (area when shrinking, else bilinear)."""
    height, width = (int(s) for s in size)
    planes = np.asarray(image, dtype=np.float32).reshape(-1, *image.shape[-2:])
    shrinking = height <= image.shape[-2] and width <= image.shape[-1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = [cv2.resize(plane, (width, height), interpolation=interpolation) for plane in planes]
    return np.stack(resized).reshape(*image.shape[:-2], height, width)


def _channels_first(image: np.ndarray) -> np.ndarray:
    """(..., H, W, C) -> (..., C, H, W) float32."""
    return np.moveaxis(np.asarray(image, dtype=np.float32), -1, -3)


# --- loading -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadKeyFrames:
    """Reads the clip's annotated key frames (onset and apex by default) into `frames`, in `keys` order."""

    keys: Sequence[str] = ("onset", "apex")

    def __post_init__(self) -> None:
        _check("keys", self.keys, KEY_FRAMES)

    def __call__(self, sample: Sample) -> Sample:
        clip = sample["clip"]
        positions = [getattr(clip, k) for k in self.keys]
        sample["frames"] = _read_frames(clip, positions)
        sample["frame_keys"] = tuple(self.keys)
        sample["frame_positions"] = np.asarray(positions, dtype=np.float64)
        sample["key_positions"] = {k: self.keys.index(k) for k in self.keys}
        return sample


SPANS = ("onset_offset", "clip")
SAMPLINGS = ("uniform", "interpolate")


@dataclass(frozen=True)
class LoadFrames:
    """Reads the frames from onset to offset (`span: clip`: every frame) into `frames`.

    `num_frames` resamples them to a fixed count for sequence models: `uniform` picks evenly spaced frames (reading
    only those), `interpolate` blends the two nearest frames (`keyframes.temporal_interpolate`, rounded to uint8).
    Each key frame is recorded at the loaded frame nearest to it, so after resampling the apex may move by up to
    half a sampling step.
    """

    span: str = "onset_offset"
    num_frames: int | None = None
    sampling: str = "uniform"

    def __post_init__(self) -> None:
        _check("span", [self.span], SPANS)
        _check("sampling", [self.sampling], SAMPLINGS)
        if self.num_frames is not None and self.num_frames < 1:
            raise ValueError(f"preprocessing: num_frames must be null or >= 1, got {self.num_frames}")

    def __call__(self, sample: Sample) -> Sample:
        clip = sample["clip"]
        first, last = (clip.onset, clip.offset) if self.span == "onset_offset" else (0, clip.num_frames - 1)
        length = last - first + 1
        if self.num_frames is None:
            positions = np.arange(length, dtype=np.float64)
            frames = _read_frames(clip, range(first, last + 1))
        elif self.sampling == "uniform":
            picks = sample_indices(length, self.num_frames)
            positions = picks.astype(np.float64)
            frames = _read_frames(clip, [first + int(i) for i in picks])
        else:
            positions = np.linspace(0, length - 1, self.num_frames)
            blended = temporal_interpolate(_read_frames(clip, range(first, last + 1)), self.num_frames)
            frames = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        positions += first
        sample["frames"] = frames
        sample["frame_positions"] = positions
        sample["key_positions"] = {k: int(np.argmin(np.abs(positions - getattr(clip, k)))) for k in KEY_FRAMES}
        return sample


@dataclass(frozen=True)
class ApexSpotting:
    """Replaces the apex by a policy: `middle` of onset..offset, or `spotted` (the frame that moved most from the
    onset, by `motion`; see `keyframes.spot_apex`). Needs the onset..offset frames (LoadFrames).

    `replace: repaired` only touches clips whose reader repaired the apex (missing, as in SMIC, or out of range);
    `always` ignores the annotation.
    """

    policy: str = "spotted"
    motion: str = "absdiff"
    replace: str = "always"

    def __post_init__(self) -> None:
        _check("policy", [self.policy], ("middle", "spotted"))
        _check("motion", [self.motion], APEX_MOTIONS)
        _check("replace", [self.replace], ("always", "repaired"))

    def __call__(self, sample: Sample) -> Sample:
        if self.replace == "repaired" and not any(r.startswith("apex") for r in sample["clip"].repairs):
            return sample
        onset, offset = key_position(sample, "onset"), key_position(sample, "offset")
        if self.policy == "middle":
            apex = middle_apex(onset, offset)
        else:
            apex = spot_apex(sample["frames"], onset, offset, self.motion)
        sample["key_positions"] = {**sample["key_positions"], "apex": apex}
        return sample


# --- landmarks and alignment ---------------------------------------------------------------------------------------

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

    Backends: `annotation` reads the clip's landmark file (`.npy` (T, 68, 2) or (68, 2), CK+ `.txt`), interpolated
    to the loaded frames; `dlib` and `fan` detect (`options` go to `DlibLandmarks` / `FanLandmarks`, e.g.
    `predictor_path`, `upsample`; `torch_home`, `face_detector`, `device`). Detection runs on the onset frame only,
    or on every frame with `track`.
    """

    backend: str = "annotation"
    track: bool = False
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check("backend", [self.backend], LANDMARK_BACKENDS)
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
            points = load_landmarks(clip.landmarks)
        except (LandmarkError, OSError, ValueError) as err:
            raise PreprocessError(f"landmarks {clip.landmarks}: {err}") from err
        if points.ndim == 2:
            if self.track:
                raise PreprocessError(f"{clip.landmarks} holds one frame's landmarks; track: true needs every frame's")
            return points
        if len(points) != clip.num_frames:
            raise PreprocessError(f"{clip.landmarks} holds landmarks of {len(points)} frames, the clip has {clip.num_frames}")
        positions = sample["frame_positions"] if self.track else sample["frame_positions"][[onset]]
        lower = np.floor(positions).astype(np.int64)
        upper = np.minimum(lower + 1, len(points) - 1)
        weight = (positions - lower)[:, None, None]
        tracked = ((1 - weight) * points[lower] + weight * points[upper]).astype(np.float32)
        return tracked if self.track else tracked[0]


def _reference_landmarks(sample: Sample) -> np.ndarray:
    """(68, 2) landmarks of the onset frame, from either `landmarks` layout."""
    if "landmarks" not in sample:
        raise ValueError("preprocessing: this step needs landmarks; put a Landmarks step before it")
    landmarks = sample["landmarks"]
    return landmarks if landmarks.ndim == 2 else landmarks[key_position(sample, "onset")]


@dataclass(frozen=True)
class Align:
    """Warps every frame by ONE similarity taking the onset frame's eye centres to `eye_positions` (x, y fractions)
    in a face of `size` (height, width), so alignment adds no motion; landmarks follow the same transform."""

    size: Sequence[int] = (224, 224)
    eye_positions: Sequence[Sequence[float]] = DEFAULT_EYE_POSITIONS

    def __post_init__(self) -> None:
        _check_size("size", self.size)
        if np.shape(self.eye_positions) != (2, 2):
            raise ValueError(f"preprocessing: eye_positions must be two (x, y) pairs, got {self.eye_positions!r}")

    def __call__(self, sample: Sample) -> Sample:
        reference = _reference_landmarks(sample)
        try:
            frames, transform = align_clip(sample["frames"], reference, self.size, self.eye_positions)
        except ValueError as err:  # the eye centres coincide: the landmarks are not a face
            raise PreprocessError(f"cannot align: {err}") from err
        sample["frames"] = frames
        sample["landmarks"] = transform_points(sample["landmarks"], transform)
        return sample


# --- model inputs --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpticalFlow:
    """Flow from one loaded key frame to another, as (C, H, W) channels (u, v, strain by default)."""

    method: str = "tvl1"
    source: str = "onset"
    target: str = "apex"
    channels: Sequence[str] = ("u", "v", "strain")
    normalize: str = "minmax"
    output: str = "flow"
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check("method", [self.method], FLOW_METHODS)
        _check("source/target", [self.source, self.target], KEY_FRAMES)
        _check("channels", self.channels, FLOW_CHANNELS)
        _check("normalize", [self.normalize], ("minmax", "none"))

    def __call__(self, sample: Sample) -> Sample:
        first, second = key_frame(sample, self.source), key_frame(sample, self.target)
        features = flow_features(optical_flow(first, second, self.method, **dict(self.params)), self.channels)
        if self.normalize == "minmax":
            features = minmax_per_channel(features)
        sample[self.output] = features
        return sample


@dataclass(frozen=True)
class FrameDifference:
    """`target` minus `source` frame (apex - onset: Meta-MMFNet's second stream) as (C, H, W); `rescale` as in
    `difference.frame_difference` (`none` keeps the signed difference)."""

    source: str = "onset"
    target: str = "apex"
    rescale: str = "minmax"
    output: str = "diff"

    def __post_init__(self) -> None:
        _check("source/target", [self.source, self.target], KEY_FRAMES)
        _check("rescale", [self.rescale], ("minmax", "linear", "none"))

    def __call__(self, sample: Sample) -> Sample:
        rescale = None if self.rescale == "none" else self.rescale
        difference = frame_difference(key_frame(sample, self.source), key_frame(sample, self.target), rescale)
        sample[self.output] = _channels_first(difference)
        return sample


@dataclass(frozen=True)
class DynamicImage:
    """Dynamic image (approximate rank pooling) of the loaded frames from `segment[0]` to `segment[1]` inclusive,
    as (C, H, W) 0..255, resized to `size` when given. `variant`: `bilen` (the paper) or `learnet` (its code)."""

    variant: str = "bilen"
    segment: Sequence[str] = ("onset", "offset")
    size: Sequence[int] | None = None
    output: str = "dynamic"

    def __post_init__(self) -> None:
        _check("variant", [self.variant], VARIANTS)
        _check("segment", self.segment, KEY_FRAMES)
        if len(self.segment) != 2 or KEY_FRAMES.index(self.segment[0]) > KEY_FRAMES.index(self.segment[1]):
            raise ValueError(f"preprocessing: segment must be two key frames in time order, got {list(self.segment)}")
        _check_size("size", self.size, optional=True)

    def __call__(self, sample: Sample) -> Sample:
        start, end = (key_position(sample, k) for k in self.segment)
        image = _channels_first(dynamic_image(sample["frames"][start : end + 1], self.variant))
        sample[self.output] = _resize(image, self.size) if self.size is not None else image
        return sample


REGION_KINDS = {"landmarks": tuple(LANDMARK_GROUPS), "aouayeb": tuple(AOUAYEB_REGIONS)}


@dataclass(frozen=True)
class Regions:
    """Crops of `source` around facial regions, all resized to `size`, stacked as `output` (R, ..., C, h, w).

    `kind: landmarks` boxes landmark groups (`regions.LANDMARK_GROUPS`, grown by `margin`, squared with `square`);
    `kind: aouayeb` cuts Aouayeb et al.'s fixed regions of the 280x240 face made from the landmarks. `names` picks
    regions (null: all of the kind). Boxes come from the onset landmarks, in the pixels of `source`: the loaded
    `frames` (giving (R, T, C, h, w)) or an input made from them before any resize, such as `flow` ((R, C, h, w)).
    """

    kind: str = "landmarks"
    names: Sequence[str] | None = None
    source: str = "frames"
    size: Sequence[int] = (48, 48)
    margin: float = 0.2
    square: bool = True
    output: str = "regions"

    def __post_init__(self) -> None:
        _check("kind", [self.kind], REGION_KINDS)
        _check("names", self.names or [], REGION_KINDS[self.kind])
        _check_size("size", self.size)

    def __call__(self, sample: Sample) -> Sample:
        landmarks = _reference_landmarks(sample)
        image = sample[self.source]
        # frames are (T, H, W, C); inputs (C, H, W) go to (H, W, C) to be cut, and come back channels first.
        image = image if self.source == "frames" else np.moveaxis(image, 0, -1)
        names = list(self.names or REGION_KINDS[self.kind])
        try:
            if self.kind == "landmarks":
                crops = crop_regions(image, landmarks, names, self.size, self.margin, self.square)
            else:
                crops = crop_boxes(aouayeb_face(image, landmarks), [AOUAYEB_REGIONS[n] for n in names], self.size)
        except ValueError as err:
            raise PreprocessError(f"cannot cut regions: {err}") from err
        sample[self.output] = _channels_first(crops)
        return sample


@dataclass(frozen=True)
class LandmarkFeatures:
    """Choi et al.'s landmark feature maps of consecutive tracked frames, (T-1, 1, 68, 68); `normalize` maps each to
    0..255 by its own peak (`landmark_features.normalize_feature_maps`), else the raw distance changes (pixels)."""

    normalize: bool = True
    output: str = "lmf"

    def __call__(self, sample: Sample) -> Sample:
        landmarks = sample.get("landmarks")
        if landmarks is None or landmarks.ndim != 3:
            raise ValueError("preprocessing: LandmarkFeatures needs landmarks of every frame: Landmarks with track: true")
        if len(landmarks) < 2:
            raise PreprocessError("LandmarkFeatures needs at least two frames")
        maps = landmark_feature_maps(landmarks)
        sample[self.output] = (normalize_feature_maps(maps) if self.normalize else maps)[:, None]
        return sample


@dataclass(frozen=True)
class Magnify:
    """Eulerian magnification of the loaded frames (`magnify.magnify`): changes in the `low`..`high` Hz band at the
    dataset's `fps` grow by `alpha`. Put it after loading (and aligning) and before the step that makes inputs."""

    alpha: float = 10.0
    low: float = 2.0
    high: float = 20.0
    fps: float = 200.0
    pyramid: str = "laplacian"
    levels: int = 3
    temporal_filter: str = "ideal"
    order: int = 1

    def __post_init__(self) -> None:
        _check("pyramid", [self.pyramid], PYRAMIDS)
        _check("temporal_filter", [self.temporal_filter], TEMPORAL_FILTERS)
        if not 0 < self.low < self.high <= self.fps / 2:
            raise ValueError(f"preprocessing: need 0 < low < high <= fps/2, got low={self.low} high={self.high} fps={self.fps}")
        if self.alpha < 0 or self.levels < 0 or self.order < 1:
            raise ValueError(f"preprocessing: need alpha >= 0, levels >= 0, order >= 1, got {self}")

    def __call__(self, sample: Sample) -> Sample:
        try:
            sample["frames"] = magnify(
                sample["frames"], self.alpha, self.low, self.high, self.fps,
                self.pyramid, self.levels, self.temporal_filter, self.order,
            )
        except ValueError as err:
            raise PreprocessError(f"cannot magnify: {err}") from err
        return sample


@dataclass(frozen=True)
class FrameStack:
    """The loaded frames themselves as a model input, (T, C, H, W) float32: grey (one channel, ITU-R 601 luma) or
    RGB, resized to `size` (height, width) when given, multiplied by `scale` (1/255 gives 0..1). Sequence models
    read it; list its output in `preprocessing.sequences` so that clips of different lengths are padded, not cut."""

    grey: bool = True
    size: Sequence[int] | None = None
    scale: float = 1.0 / 255
    output: str = "frames"

    def __post_init__(self) -> None:
        _check_size("size", self.size, optional=True)
        if not self.scale > 0:
            raise ValueError(f"preprocessing: scale must be > 0, got {self.scale}")

    def __call__(self, sample: Sample) -> Sample:
        frames = sample["frames"]
        if self.grey:
            frames = np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames])[..., None]
        stack = _channels_first(frames)
        if self.size is not None:
            stack = _resize(stack, self.size)
        sample[self.output] = stack * np.float32(self.scale)
        return sample


# --- precomputed inputs and sizes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadImage:
    """A precomputed input stored as one image per clip (its first frame path), as (C, H, W) float32 0..255."""

    output: str = "flow"
    channel_order: str = "bgr"

    def __post_init__(self) -> None:
        _check("channel_order", [self.channel_order], ("rgb", "bgr"))

    def __call__(self, sample: Sample) -> Sample:
        image = read_image(sample["clip"].frames[0], self.channel_order)
        sample[self.output] = image.transpose(2, 0, 1).astype(np.float32)
        return sample


@dataclass(frozen=True)
class Resize:
    """Resizes an input's last two axes ((C, H, W), or sequences and regions) to `size` (height, width), with area
    interpolation (bilinear when enlarging)."""

    key: str
    size: Sequence[int]

    def __post_init__(self) -> None:
        _check_size("size", self.size)

    def __call__(self, sample: Sample) -> Sample:
        sample[self.key] = _resize(sample[self.key], self.size)
        return sample
