"""Datasets of precomputed inputs: a labels table (CSV) and one image per clip.

Any folder of that shape fits, with its column names as settings: the MEGC 2019 composite optical-flow images that
STSTNet was trained on are one (`dataset=megc2019_flow`). The source dataset of each row, when the table has one,
stays part of the subject id, so composite sets keep subjects apart and report per-dataset figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError, ReadReport, Skipped, check_unique, skipping
from mer_lightning.datasets.sheets import column_map


class ImageTableDataset(ClipDataset):
    """Clips from `root/table`; `columns` maps `subject, clip, image, emotion` (and optionally `dataset`)."""

    def __init__(
        self, name: str, root: str | Path, classes: str | Mapping, table: str, columns: Mapping[str, str]
    ) -> None:
        super().__init__(name, classes)
        self.root = Path(root)
        self.table = table
        self.columns = column_map(columns)

    def clips(self, skipped: Skipped | None = None) -> list[Clip]:
        path = self.root / self.table
        if not path.is_file():
            raise DataError(f"dataset {self.name!r}: labels table {path} not found (set dataset.root)")
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = sorted(set(self.columns.values()) - set(table.columns))
        if missing:
            raise DataError(f"{path}: columns {missing} not found (has {list(table.columns)})")
        self.report = ReadReport(sources={f"{self.name} labels table": path})
        clips = []
        for row_number, row in enumerate(table.to_dict("records"), start=2):
            with skipping(skipped, f"{path}, row {row_number}"):
                if (clip := self._clip(row, path, row_number)) is not None:
                    clips.append(clip)
        check_unique(clips)
        return clips

    def _clip(self, row: dict[str, str], path: Path, row_number: int) -> Clip | None:
        value = {field: row[column].strip() for field, column in self.columns.items()}
        dataset = value.get("dataset") or self.name
        try:
            label = self.scheme.label(value["emotion"], dataset)
        except KeyError as err:
            raise DataError(f"{path}, row {row_number}: {err.args[0]}") from None
        if label is None:
            self.report.dropped[dataset, value["emotion"].lower()] += 1
            return None
        image = self.root / value["image"]
        if not image.is_file():
            raise DataError(f"{path}, row {row_number}: image {image} not found")
        return Clip(
            dataset=dataset,
            subject=f"{dataset}/{value['subject']}",
            source_subject=value["subject"],
            clip_id=value["clip"],
            frames=(image,),
            onset=0,
            apex=0,
            offset=0,
            emotion=value["emotion"].lower(),
            label=label,
        )
