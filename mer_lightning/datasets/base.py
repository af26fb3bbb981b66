"""What every reader provides: the clips of one dataset, labelled through a class scheme."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from mer_lightning.clip import Clip
from mer_lightning.datasets.schemes import ClassScheme, resolve_scheme


class ClipDataset(ABC):
    """A source of labelled clips. `name` is the dataset as tags and clip ids name it; `fps` its frame rate (for
    durations in `mer-data describe`; None when unknown)."""

    def __init__(self, name: str, classes: str | Mapping | ClassScheme, fps: float | None = None) -> None:
        self.name = name
        self.scheme: ClassScheme = resolve_scheme(classes)
        self.fps = fps

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.scheme.classes

    def label(self, emotion: str) -> int | None:
        """Class of a raw emotion under the scheme, its entries for this dataset included (`KeyError` if unknown)."""
        return self.scheme.label(emotion, self.name)

    def with_scheme(self, classes: str | Mapping | ClassScheme) -> ClipDataset:
        """This reader labelling through another scheme: how a composite set relabels its members."""
        relabelled = copy.copy(self)
        relabelled.scheme = resolve_scheme(classes)
        return relabelled

    def frame_rates(self) -> dict[str, float | None]:
        """Frame rate of each source dataset whose clips this reader yields."""
        return {self.name: self.fps}

    @abstractmethod
    def clips(self) -> list[Clip]:
        """Every usable clip, in a stable order; raises `DataError` naming the file when the data cannot be used."""


class DatasetWrapper(ClipDataset):
    """A dataset made from another (`dataset`), whose clips it builds on: it has that one's name, scheme and frame
    rates, and relabelling it relabels the dataset inside (a composite set relabels its members)."""

    def __init__(self, dataset: ClipDataset) -> None:
        super().__init__(dataset.name, dataset.scheme, dataset.fps)
        self.dataset = dataset

    def with_scheme(self, classes: str | Mapping | ClassScheme) -> ClipDataset:
        relabelled = copy.copy(self)
        relabelled.dataset = self.dataset.with_scheme(classes)
        relabelled.scheme = relabelled.dataset.scheme
        return relabelled

    def frame_rates(self) -> dict[str, float | None]:
        return self.dataset.frame_rates()


class DataError(ValueError):
    """The data on disk cannot be used; the message names the file, row or clip at fault."""


def check_unique(clips: Sequence[Clip]) -> None:
    seen: dict[str, Clip] = {}
    for clip in clips:
        if clip.uid in seen:
            raise DataError(f"clip {clip.uid} appears twice: {seen[clip.uid].frames[0].parent} and {clip.frames[0].parent}")
        seen[clip.uid] = clip
