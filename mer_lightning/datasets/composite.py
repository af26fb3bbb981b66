"""Composite sets: several readers' clips under one class scheme (MEGC 2019, CDE, the survey's fused sets, or any
list of readers named on the command line).

Each member reads its own release and labels through the composite's scheme, its per-dataset entries included, so
MEGC 2019's rule (CASME II fear and sadness dropped, SAMM's counted as negative) applies by source. Subject ids
keep their source dataset (`casme2/sub01`, `samm/006`), so subjects never merge across sets.

A membership list restricts the set to a published selection, in any of the shapes the field distributes: a CSV
whose header names the columns `dataset` (or `data`), `subject` and `clip` (other columns ignored), or one without a
header whose first three columns are those (MEGC 2019's `casme2,sub01,EP02_01f,1`). Ids are matched the way the
readers name them whatever the list's spelling: case aside, and numbers as numbers (the list's SAMM subject `6` is
the reader's `006`, SMIC's `s1` its `s01`). The listed clips the copy lacks are kept in `missing_members` for
`mer-data describe`; a list that matches no clip of a member is an error showing both sides' ids.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError, ReadReport, Skipped, check_unique
from mer_lightning.datasets.schemes import ClassScheme

log = logging.getLogger(__name__)
MEMBER_COLUMNS = ("dataset", "subject", "clip")
DATASET_COLUMNS = ("dataset", "data")  # MEGC 2019's list names it `data`

Member = tuple[str, str, str]  # (dataset, subject, clip), as listed


def member_key(dataset: str, subject: str, clip: str) -> tuple[str, str, str]:
    """What a listed clip and a read clip are matched on: the ids lower-cased, every run of digits as its number."""

    def canonical(text: str) -> str:
        return re.sub(r"\d+", lambda m: str(int(m.group())), text.strip().lower())

    return dataset.strip().lower(), canonical(subject), canonical(clip)


def read_members(path: Path) -> list[Member]:
    """The (dataset, subject, clip) rows of a membership list, with or without its header row."""
    if not path.is_file():
        raise DataError(f"membership list {path} not found (dataset.members)")
    try:
        raw = pd.read_csv(path, header=None, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: cannot read it as a CSV membership list: {err}") from None
    if raw.empty:
        raise DataError(f"{path}: the membership list is empty")
    first = [str(v).strip().lower() for v in raw.iloc[0]]
    if "subject" in first or "clip" in first:
        dataset = next((c for c in DATASET_COLUMNS if c in first), None)
        missing = [c for c in ("subject", "clip") if c not in first] + ([] if dataset else ["dataset (or data)"])
        if missing:
            raise DataError(f"{path}: the header row {list(raw.iloc[0])} has no column {', '.join(missing)}")
        columns = [first.index(dataset), first.index("subject"), first.index("clip")]
        rows = raw.iloc[1:, columns]
    elif raw.shape[1] < 3:
        raise DataError(
            f"{path}: a membership list needs the columns dataset, subject, clip (a header row naming them, or "
            f"those three first); its first row is {list(raw.iloc[0])}"
        )
    else:
        rows = raw.iloc[:, :3]
    return [
        tuple(str(v).strip() for v in row) for row in rows.itertuples(index=False) if any(str(v).strip() for v in row)
    ]


class CompositeDataset(ClipDataset):
    """The clips of `datasets` (a mapping name -> reader, as Hydra builds it, or a list), labelled by `classes`."""

    def __init__(
        self,
        datasets: Mapping[str, ClipDataset] | Sequence[ClipDataset],
        classes: str | Mapping | ClassScheme,
        members: str | Path | None = None,
        name: str = "composite",
    ) -> None:
        super().__init__(name, classes)
        readers = list(datasets.values()) if isinstance(datasets, Mapping) else list(datasets)
        if not readers:
            raise ValueError(f"dataset {name!r}: a composite set needs at least one dataset")
        names = [r.name for r in readers]
        if len(set(names)) != len(names):
            raise ValueError(f"dataset {name!r}: its datasets must have distinct names, got {names}")
        self.datasets = [r.with_scheme(self.scheme) for r in readers]
        self.members = Path(members) if members else None
        self.missing_members: list[str] = []

    def frame_rates(self) -> dict[str, float | None]:
        return {k: v for reader in self.datasets for k, v in reader.frame_rates().items()}

    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        clips, self.report = [], ReadReport()
        for reader in self.datasets:
            clips += reader.clips(skipped)
            self.report.add(reader.report)
        check_unique(clips)
        if self.members is None:
            return clips
        listed = self._listed()
        self.report.sources[f"{self.name} membership list"] = self.members
        by_key: dict[tuple[str, str, str], Clip] = {}
        for clip in clips:
            key = member_key(clip.dataset, clip.source_subject, clip.clip_id)
            if key in by_key:
                raise DataError(
                    f"{self.members}: clips {by_key[key].uid} and {clip.uid} cannot be told apart by "
                    "a membership list (their ids differ only in case or leading zeros)"
                )
            by_key[key] = clip
        self._check_overlap(listed, clips)
        kept = [by_key[key] for key in listed if key in by_key]
        self.missing_members = sorted("/".join(member) for key, member in listed.items() if key not in by_key)
        if self.missing_members:
            log.warning(
                "dataset %s: %d clips of %s are not in this copy (or their emotion is dropped by scheme %s): %s",
                self.name,
                len(self.missing_members),
                self.members,
                self.scheme.name,
                ", ".join(self.missing_members[:10]),
            )
        order = {clip.uid: i for i, clip in enumerate(clips)}
        return sorted(kept, key=lambda clip: order[clip.uid])

    def _listed(self) -> dict[tuple[str, str, str], Member]:
        members = read_members(self.members)
        names = {reader.name for reader in self.datasets}
        unknown = sorted({dataset for dataset, _, _ in members} - names)
        if unknown:
            raise DataError(f"{self.members}: datasets {unknown} are not members of {self.name!r} ({sorted(names)})")
        return {member_key(*member): member for member in members}

    def _check_overlap(self, listed: dict[tuple[str, str, str], Member], clips: list[Clip]) -> None:
        """A member dataset of which the list names clips but matches none: the list names them differently."""
        read = {member_key(c.dataset, c.source_subject, c.clip_id): c for c in clips}
        for dataset in sorted({member[0] for member in listed.values()}):
            ours = [c for c in clips if c.dataset == dataset]
            theirs = [(key, member) for key, member in listed.items() if member[0] == dataset]
            if ours and not any(key in read for key, _ in theirs):
                raise DataError(
                    f"{self.members}: none of its {len(theirs)} {dataset} clips is among the {len(ours)} this copy "
                    f"has: it lists e.g. {'/'.join(theirs[0][1])} (dataset/subject/clip), the copy has e.g. "
                    f"{ours[0].uid}"
                )
