"""Composite sets: several readers' clips under one class scheme (MEGC 2019, CDE, the survey's fused sets, or any
list of readers named on the command line).

Each member reads its own release and labels through the composite's scheme, its per-dataset entries included, so
MEGC 2019's rule (CASME II fear and sadness dropped, SAMM's counted as negative) applies by source. Subject ids
keep their source dataset (`casme2/sub01`, `samm/006`), so subjects never merge across sets. A membership list
(CSV with columns `dataset, subject, clip`, subjects and clips as the source dataset names them) restricts the set
to a published selection; the listed clips the copy lacks are kept in `missing_members` for `mer-data describe`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError, check_unique
from mer_lightning.datasets.schemes import ClassScheme

log = logging.getLogger(__name__)
MEMBER_COLUMNS = ("dataset", "subject", "clip")


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

    def clips(self) -> list[Clip]:
        clips = [clip for reader in self.datasets for clip in reader.clips()]
        check_unique(clips)
        if self.members is None:
            return clips
        listed = self._listed()
        kept = [c for c in clips if (c.dataset, c.source_subject, c.clip_id) in listed]
        present = {(c.dataset, c.source_subject, c.clip_id) for c in kept}
        self.missing_members = ["/".join(key) for key in sorted(listed - present)]
        if self.missing_members:
            log.warning(
                "dataset %s: %d clips of %s are not in this copy (or their emotion is dropped by scheme %s): %s",
                self.name, len(self.missing_members), self.members, self.scheme.name,
                ", ".join(self.missing_members[:10]),
            )
        return kept

    def _listed(self) -> set[tuple[str, str, str]]:
        if not self.members.is_file():
            raise DataError(f"dataset {self.name!r}: membership list {self.members} not found (dataset.members)")
        table = pd.read_csv(self.members, dtype=str, keep_default_na=False)
        missing = [c for c in MEMBER_COLUMNS if c not in table.columns]
        if missing:
            raise DataError(f"{self.members}: columns {missing} not found (has {list(table.columns)})")
        names = {reader.name for reader in self.datasets}
        unknown = sorted(set(table["dataset"].str.strip()) - names)
        if unknown:
            raise DataError(f"{self.members}: datasets {unknown} are not members of {self.name!r} ({sorted(names)})")
        return {tuple(row) for row in table[list(MEMBER_COLUMNS)].apply(lambda c: c.str.strip()).itertuples(index=False)}
