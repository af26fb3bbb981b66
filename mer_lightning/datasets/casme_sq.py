"""CAS(ME)^2 (Qu et al. 2017): macro- and micro-expressions inside long videos, one coding sheet for both.

The coding workbook's first tab has no header row (its columns are named by the `header` setting); the
expression type column tells micro from macro (`keep: {type: [micro-expression]}`, add `macro-expression` on
request). Frame folders are named by codes (`rawpic/s15/15_0101disgustingteeth/img1.jpg`) that the sheet's rows do
not hold: the workbook's other tabs give the naming rule (participant number -> subject code, video name ->
video code), read here as `lookups`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mer_lightning.datasets.base import DataError
from mer_lightning.datasets.sheet_frames import SheetFramesDataset
from mer_lightning.datasets.sheets import read_raw


@dataclass(frozen=True)
class Lookup:
    """A template field (the lookup's name) found by looking a row's `source` field up in a tab of the coding
    workbook: `sheet` (index or name), its `key` and `value` columns (0-based positions)."""

    source: str
    sheet: int | str
    key: int
    value: int


def _cell(text: str) -> str:
    """A cell as a name: `"15.0"` (a number stored as float) reads as `"15"`."""
    text = str(text).strip()
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text


class CasmeSquaredDataset(SheetFramesDataset):
    """`SheetFramesDataset` with `lookups` (`{field: {source, sheet, key, value}}`) adding template fields."""

    def __init__(self, *, lookups: Mapping[str, Mapping] | None = None, **reader) -> None:
        super().__init__(**reader)
        self.lookups = {name: Lookup(**dict(spec)) for name, spec in (lookups or {}).items()}
        self._tables: dict[str, dict[str, str]] = {}
        self._sheet_path: Path | None = None

    def _prepare(self, sheet_path: Path) -> None:
        self._sheet_path = sheet_path
        self._tables = {}
        for name, lookup in self.lookups.items():
            raw = read_raw(sheet_path, lookup.sheet)
            if max(lookup.key, lookup.value) >= raw.shape[1]:
                raise DataError(
                    f"{sheet_path}, tab {lookup.sheet!r}: has {raw.shape[1]} columns, dataset.lookups."
                    f"{name} reads columns {lookup.key} and {lookup.value}"
                )
            self._tables[name] = {
                _cell(k): _cell(v) for k, v in zip(raw.iloc[:, lookup.key], raw.iloc[:, lookup.value]) if _cell(k)
            }

    def _fields(self, value: dict[str, str], where: str) -> dict[str, str]:
        fields = super()._fields(value, where)
        for name, lookup in self.lookups.items():
            if lookup.source not in fields:
                raise DataError(
                    f"{where}: dataset.lookups.{name} looks up {lookup.source!r}, not a field: {sorted(fields)}"
                )
            key = _cell(fields[lookup.source])
            if key not in self._tables[name]:
                raise DataError(
                    f"{where}: {lookup.source} {key!r} is not in tab {lookup.sheet!r} of {self._sheet_path} "
                    f"(column {lookup.key}; dataset.lookups.{name})"
                )
            fields[name] = self._tables[name][key]
        return fields
