"""What every reader provides: the clips of one dataset, labelled through a class scheme, and what it found reading
them."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mer_lightning.clip import Clip
from mer_lightning.datasets.schemes import ClassScheme, resolve_scheme

Skipped = dict[str, str]  # per-clip faults left out under on_error=skip: where (clip uid, sheet row, folder) -> why


class DataError(ValueError):
    """The data on disk cannot be used; the message names the file, row or clip at fault."""


@dataclass
class ReadReport:
    """What a reader's last read found beside its clips: the annotation files it read (`sources`, e.g.
    `{"casme2 sheet": path}`) and the clips its class scheme leaves out, counted by (dataset, emotion)."""

    sources: dict[str, Path] = field(default_factory=dict)
    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, other: ReadReport) -> None:
        self.sources.update(other.sources)
        self.dropped.update(other.dropped)


class ClipDataset(ABC):
    """A source of labelled clips. `name` is the dataset as tags and clip ids name it; `fps` its frame rate (for
    durations in `mer-data describe`; None when unknown)."""

    def __init__(self, name: str, classes: str | Mapping[str, Any] | ClassScheme, fps: float | None = None) -> None:
        self.name = name
        self.scheme: ClassScheme = resolve_scheme(classes)
        self.fps = fps
        self.report = ReadReport()

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.scheme.classes

    def label(self, emotion: str) -> int | None:
        """Class of a raw emotion under the scheme, its entries for this dataset included (`KeyError` if unknown)."""
        return self.scheme.label(emotion, self.name)

    def classify(self, emotion: str, where: str) -> int | None:
        """The class of a clip's emotion; None when the scheme leaves the emotion out (counted in `report.dropped`);
        a `DataError` naming `where` (the sheet row, file or folder) when the scheme does not know it."""
        try:
            label = self.label(emotion)
        except KeyError as err:
            raise DataError(f"{where}: {err.args[0]}") from None
        if label is None:
            self.report.dropped[self.name, emotion.strip().lower()] += 1
        return label

    def with_scheme(self, classes: str | Mapping[str, Any] | ClassScheme) -> ClipDataset:
        """This reader labelling through another scheme: how a composite set relabels its members."""
        relabelled = copy.copy(self)
        relabelled.scheme = resolve_scheme(classes)
        return relabelled

    def frame_rates(self) -> dict[str, float | None]:
        """Frame rate of each source dataset whose clips this reader yields."""
        return {self.name: self.fps}

    @abstractmethod
    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        """Every usable clip, in a stable order, refreshing `report`. A fault of the data raises `DataError` naming
        the file; with a `skipped` dict, a fault of one clip (its row, folder or frames) is recorded there instead and
        the clip left out."""


class DatasetWrapper(ClipDataset):
    """A dataset made from another (`dataset`), whose clips it builds on: it has that one's name, scheme, frame
    rates and read report, and relabelling it relabels the dataset inside (a composite set relabels its members)."""

    def __init__(self, dataset: ClipDataset) -> None:
        super().__init__(dataset.name, dataset.scheme, dataset.fps)
        self.dataset = dataset

    def with_scheme(self, classes: str | Mapping[str, Any] | ClassScheme) -> ClipDataset:
        relabelled = copy.copy(self)
        relabelled.dataset = self.dataset.with_scheme(classes)
        relabelled.scheme = relabelled.dataset.scheme
        return relabelled

    def frame_rates(self) -> dict[str, float | None]:
        return self.dataset.frame_rates()

    def read(self, skipped: Skipped | None = None) -> list[Clip]:
        """The inner dataset's clips, its report becoming this one's."""
        clips = self.dataset.clips(skipped)
        self.report = self.dataset.report
        return clips


@contextmanager
def skipping(skipped: Skipped | None, where: str) -> Iterator[None]:
    """Reading one clip: a `DataError` inside is raised, or, given a `skipped` dict (on_error=skip), recorded there
    under `where` and the clip left out (the `with` block ends; the reader goes on with the next clip)."""
    try:
        yield
    except DataError as err:
        if skipped is None:
            raise
        skipped[where] = str(err)


def check_unique(clips: Sequence[Clip]) -> None:
    seen: dict[str, Clip] = {}
    for clip in clips:
        if clip.uid in seen:
            raise DataError(
                f"clip {clip.uid} appears twice: {seen[clip.uid].frames[0].parent} and {clip.frames[0].parent}"
            )
        seen[clip.uid] = clip
