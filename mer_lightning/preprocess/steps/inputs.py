"""Steps that make model inputs from the loaded frames: flow, frame difference, dynamic image, regions, landmark
features, the frames themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from mer_lightning.preprocess.difference import frame_difference
from mer_lightning.preprocess.dynamic_image import VARIANTS, dynamic_image
from mer_lightning.preprocess.flow import FLOW_CHANNELS, FLOW_METHODS, flow_features, minmax_per_channel, optical_flow
from mer_lightning.preprocess.landmark_features import landmark_feature_maps, normalize_feature_maps, sfem_intensity
from mer_lightning.preprocess.regions import AOUAYEB_REGIONS, LANDMARK_GROUPS, aouayeb_face, crop_boxes, crop_regions
from mer_lightning.preprocess.sample import KEY_FRAMES, PreprocessError, Sample, key_frame, key_position
from mer_lightning.preprocess.steps.common import channels_first, check_choice, check_size, reference_landmarks, resize


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
        check_choice("method", [self.method], FLOW_METHODS)
        check_choice("source/target", [self.source, self.target], KEY_FRAMES)
        check_choice("channels", self.channels, FLOW_CHANNELS)
        check_choice("normalize", [self.normalize], ("minmax", "none"))

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
        check_choice("source/target", [self.source, self.target], KEY_FRAMES)
        check_choice("rescale", [self.rescale], ("minmax", "linear", "none"))

    def __call__(self, sample: Sample) -> Sample:
        rescale = None if self.rescale == "none" else self.rescale
        difference = frame_difference(key_frame(sample, self.source), key_frame(sample, self.target), rescale)
        sample[self.output] = channels_first(difference)
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
        check_choice("variant", [self.variant], VARIANTS)
        check_choice("segment", self.segment, KEY_FRAMES)
        if len(self.segment) != 2 or KEY_FRAMES.index(self.segment[0]) > KEY_FRAMES.index(self.segment[1]):
            raise ValueError(f"preprocessing: segment must be two key frames in time order, got {list(self.segment)}")
        check_size("size", self.size, optional=True)

    def __call__(self, sample: Sample) -> Sample:
        start, end = (key_position(sample, k) for k in self.segment)
        image = channels_first(dynamic_image(sample["frames"][start : end + 1], self.variant))
        sample[self.output] = resize(image, self.size) if self.size is not None else image
        return sample


REGION_KINDS = {"landmarks": tuple(LANDMARK_GROUPS), "aouayeb": tuple(AOUAYEB_REGIONS)}


@dataclass(frozen=True)
class Regions:
    """Crops of `source` around facial regions, all resized to `size`, stacked as `output` (R, ..., C, h, w).

    `kind: landmarks` boxes landmark groups (`regions.LANDMARK_GROUPS`, grown by `margin`, squared with `square`);
    `kind: aouayeb` cuts Aouayeb et al.'s fixed regions of the 280x240 face made from the landmarks. `names` picks
    regions (null: all of the kind). Boxes come from the onset landmarks, in the pixels of `source`: the loaded
    `frames` (giving (R, T, C, h, w)) or an input made from them before any resize, such as `flow` ((R, C, h, w)).
    `time_first` puts the frames' axis first, (T, R, C, h, w): a sequence of per-frame region stacks, which
    `preprocessing.sequences` can name (padded by the data module, or served frame by frame). `grey` turns RGB frames
    into one grey channel (ITU-R 601 luma) before they are cut.
    """

    kind: str = "landmarks"
    names: Sequence[str] | None = None
    source: str = "frames"
    size: Sequence[int] = (48, 48)
    margin: float = 0.2
    square: bool = True
    output: str = "regions"
    time_first: bool = False
    grey: bool = False

    def __post_init__(self) -> None:
        check_choice("kind", [self.kind], REGION_KINDS)
        check_choice("names", self.names or [], REGION_KINDS[self.kind])
        check_size("size", self.size)
        for setting in ("time_first", "grey"):
            if getattr(self, setting) and self.source != "frames":
                raise ValueError(f"preprocessing: {setting} needs source frames (a clip's frames), got {self.source!r}")

    def __call__(self, sample: Sample) -> Sample:
        landmarks = reference_landmarks(sample)
        image = sample[self.source]
        # frames are (T, H, W, C); inputs (C, H, W) go to (H, W, C) to be cut, and come back channels first.
        image = image if self.source == "frames" else np.moveaxis(image, 0, -1)
        if self.grey:
            image = np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in image])[..., None]
        names = list(self.names or REGION_KINDS[self.kind])
        try:
            if self.kind == "landmarks":
                crops = crop_regions(image, landmarks, names, self.size, self.margin, self.square)
            else:
                crops = crop_boxes(aouayeb_face(image, landmarks), [AOUAYEB_REGIONS[n] for n in names], self.size)
        except ValueError as err:
            raise PreprocessError(f"cannot cut regions: {err}") from err
        crops = channels_first(crops)
        sample[self.output] = np.moveaxis(crops, 1, 0) if self.time_first else crops
        return sample


def _tracked_landmarks(sample: Sample, step: str) -> np.ndarray:
    """(T >= 2, 68, 2) landmarks of every loaded frame."""
    landmarks = sample.get("landmarks")
    if landmarks is None or landmarks.ndim != 3:
        raise ValueError(f"preprocessing: {step} needs landmarks of every frame: Landmarks with track: true")
    if len(landmarks) < 2:
        raise PreprocessError(f"{step} needs at least two frames")
    return landmarks


@dataclass(frozen=True)
class LandmarkFeatures:
    """Choi et al.'s landmark feature maps of consecutive tracked frames, (T-1, 1, 68, 68); `normalize` maps each to
    an image by its own peak (`landmark_features.normalize_feature_maps`, -1..255), else the raw distance changes
    (pixels)."""

    normalize: bool = True
    output: str = "lmf"

    def __call__(self, sample: Sample) -> Sample:
        maps = landmark_feature_maps(_tracked_landmarks(sample, "LandmarkFeatures"))
        sample[self.output] = (normalize_feature_maps(maps) if self.normalize else maps)[:, None]
        return sample


@dataclass(frozen=True)
class ExpressionIntensity:
    """Choi et al.'s SFEM of the tracked landmarks (`landmark_features.sfem_intensity`): how large the clip's
    expression is, scale-free, as a (1,) input (their joint framework routes each clip by it)."""

    output: str = "sfem"

    def __call__(self, sample: Sample) -> Sample:
        intensity = sfem_intensity(_tracked_landmarks(sample, "ExpressionIntensity"))
        sample[self.output] = np.array([intensity], dtype=np.float32)
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
        check_size("size", self.size, optional=True)
        if not self.scale > 0:
            raise ValueError(f"preprocessing: scale must be > 0, got {self.scale}")

    def __call__(self, sample: Sample) -> Sample:
        frames = sample["frames"]
        if self.grey:
            frames = np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames])[..., None]
        stack = channels_first(frames)
        if self.size is not None:
            stack = resize(stack, self.size)
        sample[self.output] = stack * np.float32(self.scale)
        return sample
