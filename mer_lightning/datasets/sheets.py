"""Reading annotation sheets (xlsx or csv) whose header row may sit below rows of notes, as SAMM's does, or be
missing altogether, as CAS(ME)^2's is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from mer_lightning.datasets.base import DataError


def find_sheet(root: Path, pattern: str) -> Path:
    """The one file under `root` matching the glob `pattern` (newest name last wins when a release ships several)."""
    matches = sorted(root.glob(pattern))
    if not matches:
        raise DataError(f"no annotation sheet matching {pattern!r} under {root}")
    return matches[-1]


def read_raw(path: Path, sheet: int | str = 0) -> pd.DataFrame:
    """Every cell of one sheet (xlsx, xls or csv) as strings, no header taken."""
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
        return pd.read_excel(path, sheet_name=sheet, header=None, dtype=str, keep_default_na=False)
    except ImportError as err:  # .xls needs xlrd, which the project does not require
        raise DataError(f"{path}: cannot read this sheet format ({err}); save it as .xlsx, or install xlrd") from None
    except (ValueError, IndexError) as err:
        raise DataError(f"{path}: cannot read sheet {sheet!r}: {err}") from None


def read_sheet(
    path: Path, required: Iterable[str], max_header_row: int = 20, names: Sequence[str] | None = None
) -> pd.DataFrame:
    """The sheet as strings, its header being the first row that holds every `required` column name; for a sheet
    without a header row, `names` names its columns in order. Rows are numbered 1-based in `_row`, as a
    spreadsheet shows them."""
    required = list(required)
    raw = read_raw(path)
    if names:
        header = [*names, *(f"_{i}" for i in range(len(names), raw.shape[1]))][: raw.shape[1]]
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(
                f"{path}: columns {missing} not found: the sheet has {raw.shape[1]} columns, named {list(names)} "
                "by the dataset's `header` setting"
            )
        return _table(raw, header, first=0)
    for row in range(min(max_header_row, len(raw))):
        header = [str(v).strip() for v in raw.iloc[row]]
        if set(required) <= set(header):
            return _table(raw, header, first=row + 1)
    raise DataError(f"{path}: no header row with the columns {required} in its first {max_header_row} rows")


def _table(raw: pd.DataFrame, header: list[str], first: int) -> pd.DataFrame:
    table = raw.iloc[first:].copy()
    table.columns = header
    table = table[[c for c in table.columns if c]]
    table = table[(table != "").any(axis=1)]
    table.index = table.index + 1
    return table.reset_index(names="_row")


def column_map(columns: Mapping[str, str]) -> dict[str, str]:
    """`field -> sheet column` from config, dropping fields the release does not have (mapped to null)."""
    return {field: col for field, col in columns.items() if col}
