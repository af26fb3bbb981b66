"""What every reader provides: the clips of one dataset, labelled through a class scheme."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from mer_lightning.clip import Clip
from mer_lightning.datasets.schemes import ClassScheme, resolve_scheme


class ClipDataset(ABC):
    """A source of labelled clips. `name` is the dataset as tags and clip ids name it."""

    def __init__(self, name: str, classes: str | Mapping) -> None:
        self.name = name
        self.scheme: ClassScheme = resolve_scheme(classes)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.scheme.classes

    @abstractmethod
    def clips(self) -> list[Clip]:
        """Every usable clip, in a stable order; raises `DataError` naming the file when the data cannot be used."""


class DataError(ValueError):
    """The data on disk cannot be used; the message names the file, row or clip at fault."""


def check_unique(clips: Sequence[Clip]) -> None:
    seen: dict[str, Clip] = {}
    for clip in clips:
        if clip.uid in seen:
            raise DataError(f"clip {clip.uid} appears twice: {seen[clip.uid].frames[0].parent} and {clip.frames[0].parent}")
        seen[clip.uid] = clip
