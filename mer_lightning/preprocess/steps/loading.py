"""Steps that load what a clip's inputs are made from: its frames (key frames, or onset to offset, resampled), the
apex by a policy, or a precomputed input image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mer_lightning.preprocess.flow import FLOW_METHODS
from mer_lightning.preprocess.images import read_frames, read_image
from mer_lightning.preprocess.keyframes import (
    APEX_MOTIONS,
    flow_interpolate,
    middle_apex,
    sample_indices,
    spot_apex,
    temporal_interpolate,
)
from mer_lightning.preprocess.sample import KEY_FRAMES, Sample, key_position
from mer_lightning.preprocess.steps.common import check_choice


@dataclass(frozen=True)
class LoadKeyFrames:
    """Reads the clip's annotated key frames (onset and apex by default) into `frames`, in `keys` order."""

    keys: Sequence[str] = ("onset", "apex")

    def __post_init__(self) -> None:
        check_choice("keys", self.keys, KEY_FRAMES)

    def __call__(self, sample: Sample) -> Sample:
        clip = sample["clip"]
        positions = [getattr(clip, k) for k in self.keys]
        sample["frames"] = read_frames(clip.frames, positions)
        sample["frame_positions"] = np.asarray(positions, dtype=np.float64)
        sample["key_positions"] = {k: self.keys.index(k) for k in self.keys}
        return sample


SPANS = ("onset_offset", "clip")
SAMPLINGS = ("uniform", "interpolate", "flow")


@dataclass(frozen=True)
class LoadFrames:
    """Reads the frames from onset to offset (`span: clip`: every frame) into `frames`.

    `num_frames` resamples them to a fixed count for sequence models: `uniform` picks evenly spaced frames (reading
    only those), `interpolate` blends the two nearest frames (`keyframes.temporal_interpolate`, rounded to uint8),
    `flow` synthesises each frame between two along the optical flow (`flow_method`) from one to the other
    (`keyframes.flow_interpolate`): a short span stretched to a sequence (Choi et al.'s three frames made into nine,
    our substitute for their learned adaptive separable convolution, which has no offline weights). Each key frame
    is recorded at the loaded frame nearest to it, so after resampling the apex may move by up to half a sampling
    step.
    """

    span: str = "onset_offset"
    num_frames: int | None = None
    sampling: str = "uniform"
    flow_method: str = "farneback"

    def __post_init__(self) -> None:
        check_choice("span", [self.span], SPANS)
        check_choice("sampling", [self.sampling], SAMPLINGS)
        check_choice("flow_method", [self.flow_method], FLOW_METHODS)
        if self.num_frames is not None and self.num_frames < 1:
            raise ValueError(f"preprocessing: num_frames must be null or >= 1, got {self.num_frames}")

    def __call__(self, sample: Sample) -> Sample:
        clip = sample["clip"]
        first, last = (clip.onset, clip.offset) if self.span == "onset_offset" else (0, clip.num_frames - 1)
        length = last - first + 1
        if self.num_frames is None:
            positions = np.arange(length, dtype=np.float64)
            frames = read_frames(clip.frames, range(first, last + 1))
        elif self.sampling == "uniform":
            picks = sample_indices(length, self.num_frames)
            positions = picks.astype(np.float64)
            frames = read_frames(clip.frames, [first + int(i) for i in picks])
        elif self.sampling == "interpolate":
            positions = np.linspace(0, length - 1, self.num_frames)
            blended = temporal_interpolate(read_frames(clip.frames, range(first, last + 1)), self.num_frames)
            frames = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        else:
            positions = np.linspace(0, length - 1, self.num_frames)
            frames = flow_interpolate(
                read_frames(clip.frames, range(first, last + 1)), self.num_frames, self.flow_method
            )
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
        check_choice("policy", [self.policy], ("middle", "spotted"))
        check_choice("motion", [self.motion], APEX_MOTIONS)
        check_choice("replace", [self.replace], ("always", "repaired"))

    def __call__(self, sample: Sample) -> Sample:
        if self.replace == "repaired" and not sample["clip"].repaired("apex"):
            return sample
        onset, offset = key_position(sample, "onset"), key_position(sample, "offset")
        if self.policy == "middle":
            apex = middle_apex(onset, offset)
        else:
            apex = spot_apex(sample["frames"], onset, offset, self.motion)
        sample["key_positions"] = {**sample["key_positions"], "apex": apex}
        return sample


@dataclass(frozen=True)
class ReadImage:
    """A precomputed input stored as one image per clip (its first frame path), as (C, H, W) float32 0..255."""

    output: str = "flow"
    channel_order: str = "bgr"

    def __post_init__(self) -> None:
        check_choice("channel_order", [self.channel_order], ("rgb", "bgr"))

    def __call__(self, sample: Sample) -> Sample:
        image = read_image(sample["clip"].frames[0], self.channel_order)
        sample[self.output] = image.transpose(2, 0, 1).astype(np.float32)
        return sample
