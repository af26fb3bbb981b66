"""Evaluation protocols: which clips a fold trains, validates and tests on.

A protocol names its fold setting (`fold_setting`, e.g. `test_subject`): one fold is one value of it, and a sweep
over `folds(clips)` covers the protocol. Validation clips, when asked for, come from the training side only.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from mer_lightning.clip import Clip


@dataclass(frozen=True)
class Split:
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]


class Protocol(ABC):
    fold_setting: str
    record_oracle: bool = False

    @abstractmethod
    def folds(self, clips: Sequence[Clip]) -> list[str]:
        """Every fold of the protocol on these clips, as values of `fold_setting`."""

    @abstractmethod
    def split(self, clips: Sequence[Clip]) -> Split:
        """The split of the fold this protocol was configured with."""

    @property
    def fold(self) -> str | None:
        return getattr(self, self.fold_setting)


def resolve_subject(name: str, clips: Sequence[Clip]) -> str:
    """The internal subject id (`dataset/subject`) for a name given either way, when it is unambiguous."""
    subjects = sorted({c.subject for c in clips})
    if name in subjects:
        return name
    matches = sorted({c.subject for c in clips if c.source_subject == name})
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"protocol.test_subject={name!r} is ambiguous: {matches}; name it with its dataset")
    raise ValueError(f"protocol.test_subject={name!r} is not a subject of this dataset; subjects: {subjects}")


class LeaveOneSubjectOut(Protocol):
    """LOSO: test on one subject, train on all others; `val_subjects` training subjects may be held out."""

    fold_setting = "test_subject"

    def __init__(
        self, test_subject: str | None = None, val_subjects: int = 0, seed: int = 0, record_oracle: bool = False
    ) -> None:
        self.test_subject = test_subject
        self.val_subjects = val_subjects
        self.seed = seed
        self.record_oracle = record_oracle

    def folds(self, clips: Sequence[Clip]) -> list[str]:
        return sorted({c.subject for c in clips})

    def split(self, clips: Sequence[Clip]) -> Split:
        if self.test_subject is None:
            raise ValueError(
                "protocol.test_subject is not set: name one subject for a single fold, or run the whole "
                f"LOSO sweep with -m (subjects: {self.folds(clips)})"
            )
        test_subject = resolve_subject(str(self.test_subject), clips)
        others = sorted({c.subject for c in clips} - {test_subject})
        if self.val_subjects >= len(others):
            raise ValueError(f"protocol.val_subjects={self.val_subjects} leaves no training subject ({len(others)} left)")
        val = set(random.Random(self.seed).sample(others, self.val_subjects))
        return Split(
            train=[c for c in clips if c.subject not in val and c.subject != test_subject],
            val=[c for c in clips if c.subject in val],
            test=[c for c in clips if c.subject == test_subject],
        )
