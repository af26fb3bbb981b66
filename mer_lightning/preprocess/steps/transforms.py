"""Steps that change what earlier steps made: magnified frames, sequences relative to a key frame, resized inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mer_lightning.preprocess.magnify import PYRAMIDS, TEMPORAL_FILTERS, magnify
from mer_lightning.preprocess.sample import KEY_FRAMES, PreprocessError, Sample, key_position
from mer_lightning.preprocess.steps.common import check_choice, check_size, resize


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
        check_choice("pyramid", [self.pyramid], PYRAMIDS)
        check_choice("temporal_filter", [self.temporal_filter], TEMPORAL_FILTERS)
        if not 0 < self.low < self.high <= self.fps / 2:
            raise ValueError(
                f"preprocessing: need 0 < low < high <= fps/2, got low={self.low} high={self.high} fps={self.fps}"
            )
        if self.alpha < 0 or self.levels < 0 or self.order < 1:
            raise ValueError(f"preprocessing: need alpha >= 0, levels >= 0, order >= 1, got {self}")

    def __call__(self, sample: Sample) -> Sample:
        try:
            sample["frames"] = magnify(
                sample["frames"],
                self.alpha,
                self.low,
                self.high,
                self.fps,
                self.pyramid,
                self.levels,
                self.temporal_filter,
                self.order,
            )
        except ValueError as err:
            raise PreprocessError(f"cannot magnify: {err}") from err
        return sample


@dataclass(frozen=True)
class RelativeToKeyFrame:
    """`key` (T, ...), a sequence made from the loaded frames (one entry per frame, such as `Regions` with
    `time_first` or `FrameStack`), minus its entry at the `frame` key frame: signed, zero at that frame.

    A micro-expression is a small change of a face, and a single frame shows the face more than the change: for an
    encoder trained on frames alone (Aouayeb et al.'s region CNN) the change is what must be seen. Subtracting the
    onset frame (the clip's neutral face) from every frame leaves what moved since then, frame by frame."""

    key: str = "regions"
    frame: str = "onset"

    def __post_init__(self) -> None:
        check_choice("frame", [self.frame], KEY_FRAMES)

    def __call__(self, sample: Sample) -> Sample:
        sequence = np.asarray(sample[self.key], dtype=np.float32)
        if len(sequence) != len(sample["frames"]):
            raise ValueError(
                f"preprocessing: RelativeToKeyFrame needs {self.key!r} to hold one entry per loaded frame "
                f"({len(sample['frames'])}), got {len(sequence)} (Regions needs time_first: true)"
            )
        sample[self.key] = sequence - sequence[key_position(sample, self.frame)]
        return sample


@dataclass(frozen=True)
class Resize:
    """Resizes an input's last two axes ((C, H, W), or sequences and regions) to `size` (height, width), with area
    interpolation (bilinear when enlarging)."""

    key: str
    size: Sequence[int]

    def __post_init__(self) -> None:
        check_size("size", self.size)

    def __call__(self, sample: Sample) -> Sample:
        sample[self.key] = resize(sample[self.key], self.size)
        return sample
