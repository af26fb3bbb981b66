"""Reading annotation sheets (xlsx or csv) whose header row may sit below rows of notes, as SAMM's does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from mer_lightning.datasets.base import DataError


def find_sheet(root: Path, pattern: str) -> Path:
    """The one file under `root` matching the glob `pattern` (newest name last wins when a release ships several)."""
    matches = sorted(root.glob(pattern))
    if not matches:
        raise DataError(f"no annotation sheet matching {pattern!r} under {root}")
    return matches[-1]


def read_sheet(path: Path, required: Iterable[str], max_header_row: int = 20) -> pd.DataFrame:
    """The sheet as strings, its header being the first row that holds every `required` column name."""
    required = list(required)
    reader = pd.read_csv if path.suffix.lower() == ".csv" else pd.read_excel
    raw = reader(path, header=None, dtype=str, keep_default_na=False)
    for row in range(min(max_header_row, len(raw))):
        header = [str(v).strip() for v in raw.iloc[row]]
        if set(required) <= set(header):
            table = raw.iloc[row + 1 :].copy()
            table.columns = header
            table = table[[c for c in table.columns if c]]
            table = table[(table != "").any(axis=1)]
            table.index = table.index + 1  # 1-based rows, as a spreadsheet shows them
            return table.reset_index(names="_row")
    raise DataError(f"{path}: no header row with the columns {required} in its first {max_header_row} rows")


def column_map(columns: Mapping[str, str]) -> dict[str, str]:
    """`field -> sheet column` from config, dropping fields the release does not have (mapped to null)."""
    return {field: col for field, col in columns.items() if col}
