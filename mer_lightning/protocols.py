"""Evaluation protocols: which clips a fold trains, validates and tests on.

A protocol names its fold setting (`fold_setting`, e.g. `test_subject`): one fold is one value of it, and a sweep
over `folds(clips)` covers the protocol. Validation clips, when asked for, come from the training side only. Clips of
the datasets named in `eval_only` are validated and tested on but never trained on (micro-expressions synthesized
from a macro-expression set, say, for a method trained on the macro-expressions alone).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mer_lightning.clip import Clip


@dataclass(frozen=True)
class Split:
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]


class Protocol(ABC):
    fold_setting: str
    record_oracle: bool = False
    eval_only: Sequence[str] = ()

    @abstractmethod
    def folds(self, clips: Sequence[Clip]) -> list[str]:
        """Every fold of the protocol on these clips, as values of `fold_setting`."""

    @abstractmethod
    def split(self, clips: Sequence[Clip]) -> Split:
        """The split of the fold this protocol was configured with."""

    def fold_clips(self, clips: Sequence[Clip]) -> Split:
        """The split a fold uses: `split`'s, with no clip of an `eval_only` dataset training."""
        _check_datasets(self.eval_only, clips, "eval_only")
        split = self.split(clips)
        return replace(split, train=self._trainable(split.train))

    @property
    def fold(self) -> str | None:
        fold: str | None = getattr(self, self.fold_setting)
        return fold

    def training_split(self, clips: Sequence[Clip], held_out: Sequence[Clip]) -> Split:
        """The split of a stage that only trains (pre-training, perhaps on another dataset) in this fold: every clip
        but those of a subject the fold tests on (or of an `eval_only` dataset), so that no stage of a fold ever sees
        its test subjects."""
        subjects = {c.subject for c in held_out}
        return Split(train=[c for c in self._trainable(clips) if c.subject not in subjects], val=[], test=[])

    def _trainable(self, clips: Sequence[Clip]) -> list[Clip]:
        return [c for c in clips if c.dataset not in self.eval_only]


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
        self,
        test_subject: str | None = None,
        val_subjects: int = 0,
        seed: int = 0,
        record_oracle: bool = False,
        eval_only: Sequence[str] = (),
    ) -> None:
        self.test_subject = test_subject
        self.val_subjects = val_subjects
        self.seed = seed
        self.record_oracle = record_oracle
        self.eval_only = list(eval_only)

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
            raise ValueError(
                f"protocol.val_subjects={self.val_subjects} leaves no training subject ({len(others)} left)"
            )
        val = set(random.Random(self.seed).sample(others, self.val_subjects))
        return Split(
            train=[c for c in clips if c.subject not in val and c.subject != test_subject],
            val=[c for c in clips if c.subject in val],
            test=[c for c in clips if c.subject == test_subject],
        )


def _sample(items: Sequence[str], count: int, seed: int, what: str) -> set[str]:
    """`count` of `items` for validation, drawn reproducibly; refuses to take them all."""
    if count >= len(items):
        raise ValueError(f"protocol: {count} validation {what} leave no training {what} ({len(items)} available)")
    return set(random.Random(seed).sample(sorted(items), count))


def _hold_out_subjects(train: list[Clip], test: list[Clip], val_subjects: int, seed: int) -> Split:
    """A split whose validation subjects come from the training side only."""
    val = _sample(sorted({c.subject for c in train}), val_subjects, seed, "subjects")
    return Split(
        train=[c for c in train if c.subject not in val], val=[c for c in train if c.subject in val], test=test
    )


def resolve_clip(name: str, clips: Sequence[Clip]) -> str:
    """The clip uid (`dataset/subject/clip`) for a name given in full or by its unambiguous end (`sub01/EP02_01f`,
    `EP02_01f`)."""
    uids = sorted(c.uid for c in clips)
    if name in uids:
        return name
    matches = [u for u in uids if u.endswith(f"/{name}")]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"protocol.test_clip={name!r} is ambiguous: {matches}; name it as dataset/subject/clip")
    raise ValueError(f"protocol.test_clip={name!r} is not a clip of this dataset (e.g. {uids[:3]})")


class LeaveOneVideoOut(Protocol):
    """LOVO (the survey's leave-one-video-out): test on one clip, train on all others, its subject's included;
    `val_clips` training clips may be held out for validation. A pre-training stage leaves out the test clip only,
    as the fold's own training does."""

    fold_setting = "test_clip"

    def __init__(
        self,
        test_clip: str | None = None,
        val_clips: int = 0,
        seed: int = 0,
        record_oracle: bool = False,
        eval_only: Sequence[str] = (),
    ) -> None:
        self.test_clip = test_clip
        self.val_clips = val_clips
        self.seed = seed
        self.record_oracle = record_oracle
        self.eval_only = list(eval_only)

    def folds(self, clips: Sequence[Clip]) -> list[str]:
        return sorted(c.uid for c in clips)

    def split(self, clips: Sequence[Clip]) -> Split:
        if self.test_clip is None:
            raise ValueError(
                "protocol.test_clip is not set: name one clip for a single fold, or run the whole LOVO sweep with -m"
            )
        test_uid = resolve_clip(str(self.test_clip), clips)
        others = [c.uid for c in clips if c.uid != test_uid]
        val = _sample(others, self.val_clips, self.seed, "clips")
        return Split(
            train=[c for c in clips if c.uid != test_uid and c.uid not in val],
            val=[c for c in clips if c.uid in val],
            test=[c for c in clips if c.uid == test_uid],
        )

    def training_split(self, clips: Sequence[Clip], held_out: Sequence[Clip]) -> Split:
        uids = {c.uid for c in held_out}
        return Split(train=[c for c in self._trainable(clips) if c.uid not in uids], val=[], test=[])


def _check_datasets(names: Sequence[str], clips: Sequence[Clip], setting: str) -> None:
    present = sorted({c.dataset for c in clips})
    unknown = sorted(set(names) - set(present))
    if unknown:
        raise ValueError(f"protocol.{setting}: {unknown} are not datasets of these clips; datasets: {present}")


class LeaveOneDatasetOut(Protocol):
    """LODO: test on one source dataset of a composite set, train on the others; `val_subjects` training
    subjects may be held out for validation."""

    fold_setting = "test_dataset"

    def __init__(
        self,
        test_dataset: str | None = None,
        val_subjects: int = 0,
        seed: int = 0,
        record_oracle: bool = False,
        eval_only: Sequence[str] = (),
    ) -> None:
        self.test_dataset = test_dataset
        self.val_subjects = val_subjects
        self.seed = seed
        self.record_oracle = record_oracle
        self.eval_only = list(eval_only)

    def folds(self, clips: Sequence[Clip]) -> list[str]:
        datasets = sorted({c.dataset for c in clips})
        if len(datasets) < 2:
            raise ValueError(f"leave-one-dataset-out needs clips of two datasets or more, got {datasets}")
        return datasets

    def split(self, clips: Sequence[Clip]) -> Split:
        if self.test_dataset is None:
            raise ValueError(
                "protocol.test_dataset is not set: name one dataset for a single fold, or run the whole "
                f"sweep with -m (datasets: {sorted({c.dataset for c in clips})})"
            )
        _check_datasets([self.test_dataset], clips, "test_dataset")
        train = [c for c in clips if c.dataset != self.test_dataset]
        return _hold_out_subjects(
            train, [c for c in clips if c.dataset == self.test_dataset], self.val_subjects, self.seed
        )


class HoldOut(Protocol):
    """Train on some datasets, test on others (macro-expressions for training, micro for testing): one fold,
    named by `holdout` (default `TRAIN_to_TEST`, names joined by `+`). Datasets in neither list are unused."""

    fold_setting = "holdout"

    def __init__(
        self,
        train_datasets: Sequence[str],
        test_datasets: Sequence[str],
        holdout: str | None = None,
        val_subjects: int = 0,
        seed: int = 0,
        record_oracle: bool = False,
        eval_only: Sequence[str] = (),
    ) -> None:
        self.train_datasets = list(train_datasets)
        self.test_datasets = list(test_datasets)
        if not self.train_datasets or not self.test_datasets:
            raise ValueError("protocol.train_datasets and protocol.test_datasets must each name a dataset")
        both = sorted(set(self.train_datasets) & set(self.test_datasets))
        if both:
            raise ValueError(f"protocol: datasets {both} are named for both training and testing")
        self.holdout = holdout or f"{'+'.join(self.train_datasets)}_to_{'+'.join(self.test_datasets)}"
        self.val_subjects = val_subjects
        self.seed = seed
        self.record_oracle = record_oracle
        self.eval_only = list(eval_only)

    def folds(self, clips: Sequence[Clip]) -> list[str]:
        return [self.holdout]

    def split(self, clips: Sequence[Clip]) -> Split:
        _check_datasets(self.train_datasets, clips, "train_datasets")
        _check_datasets(self.test_datasets, clips, "test_datasets")
        train = [c for c in clips if c.dataset in self.train_datasets]
        return _hold_out_subjects(
            train, [c for c in clips if c.dataset in self.test_datasets], self.val_subjects, self.seed
        )


PAIR = "_to_"


class CrossDataset(Protocol):
    """Every ordered pair of a composite set's source datasets: train on one, test on another (a hold-out fold each,
    named `TRAIN_to_TEST`). A sweep (`-m`) runs every pair; its summary run holds the matrix of UF1 by training
    and test dataset (rows, columns). `datasets` restricts the sets paired (default: every source dataset)."""

    fold_setting = "pair"

    def __init__(
        self,
        pair: str | None = None,
        datasets: Sequence[str] | None = None,
        val_subjects: int = 0,
        seed: int = 0,
        record_oracle: bool = False,
    ) -> None:
        self.pair = pair
        self.datasets = list(datasets) if datasets else None
        self.val_subjects = val_subjects
        self.seed = seed
        self.record_oracle = record_oracle

    def folds(self, clips: Sequence[Clip]) -> list[str]:
        present = sorted({c.dataset for c in clips})
        if self.datasets:
            _check_datasets(self.datasets, clips, "datasets")
        names = self.datasets or present
        if len(names) < 2:
            raise ValueError(f"a cross-dataset matrix needs two datasets or more, got {names}")
        return [f"{train}{PAIR}{test}" for train in names for test in names if train != test]

    def split(self, clips: Sequence[Clip]) -> Split:
        if self.pair is None:
            raise ValueError(
                "protocol.pair is not set: name one pair (protocol.pair=casme2_to_samm), or run the whole "
                f"matrix with -m (pairs: {self.folds(clips)})"
            )
        if str(self.pair).count(PAIR) != 1:
            raise ValueError(f"protocol.pair={self.pair!r}: name it TRAIN{PAIR}TEST (e.g. casme2{PAIR}samm)")
        train, test = str(self.pair).split(PAIR)
        return HoldOut([train], [test], val_subjects=self.val_subjects, seed=self.seed).split(clips)
