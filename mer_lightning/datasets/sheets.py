"""Reading annotation sheets (xlsx, old xls, or csv) whose header row may sit below rows of notes, as SAMM's does,
or be missing altogether, as CAS(ME)^2's is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mer_lightning.datasets.base import DataError

OLD_EXCEL = bytes.fromhex("d0cf11e0a1b11ae1")  # an OLE2 compound file: Excel 97-2003 (.xls), whatever its name


def find_sheet(root: Path, pattern: str, setting: str = "dataset.sheet") -> Path:
    """The one file under `root` matching the glob `pattern`; several are an error naming them all (a release may
    ship a newer sheet beside the old one: which one to read is the user's choice, made by `setting`)."""
    matches = sorted(root.glob(pattern))
    if not matches:
        raise DataError(f"no annotation sheet matching {pattern!r} under {root} (set {setting})")
    if len(matches) > 1:
        names = ", ".join(str(m.relative_to(root)) for m in matches)
        raise DataError(
            f"{len(matches)} annotation sheets match {pattern!r} under {root}: {names}; choose one with "
            f"{setting}={matches[-1].relative_to(root)!s} (or another of them)"
        )
    return matches[0]


def read_raw(path: Path, sheet: int | str = 0) -> pd.DataFrame:
    """Every cell of one sheet (xlsx, old xls or csv) as strings, no header taken."""
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
        with open(path, "rb") as file:
            old = file.read(len(OLD_EXCEL)) == OLD_EXCEL
        engine = "calamine" if old else "openpyxl"
        return pd.read_excel(path, sheet_name=sheet, header=None, dtype=str, keep_default_na=False, engine=engine)
    except ImportError:
        raise DataError(
            f"{path}: an old Excel (97-2003, .xls) workbook, whatever its name says; reading it needs the package "
            "python-calamine (pip install python-calamine), or save it as .xlsx"
        ) from None
    except (ValueError, IndexError, KeyError) as err:
        raise DataError(f"{path}: cannot read tab {sheet!r}: {err}{_tabs(path)}") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read it: {err}") from None
    except Exception as err:  # the Excel readers' own errors: a damaged or mislabelled file
        raise DataError(f"{path}: cannot read it as a spreadsheet ({type(err).__name__}: {err})") from None


def _tabs(path: Path) -> str:
    """`; its tabs are [...]`, for messages about a tab that is not there (nothing when they cannot be listed)."""
    try:
        return f"; its tabs are {pd.ExcelFile(path).sheet_names}"
    except Exception:  # the workbook itself is unreadable: the message already says what failed
        return ""


def read_sheet(
    path: Path,
    columns: Mapping[str, str],
    max_header_row: int = 20,
    names: Sequence[str] | None = None,
    tab: int | str = 0,
) -> pd.DataFrame:
    """Tab `tab` of the workbook as strings, its header being the first row that holds every column of `columns`
    (field -> column name, as the dataset's `columns` setting gives them); for a sheet without a header row, `names`
    names its columns in order. Rows are numbered 1-based in `_row`, as a spreadsheet shows them."""
    required = list(columns.values())
    raw = read_raw(path, tab)
    if names:
        header = [*names, *(f"_{i}" for i in range(len(names), raw.shape[1]))][: raw.shape[1]]
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(
                f"{path}: columns {missing} not found: the sheet has {raw.shape[1]} columns, named {list(names)} "
                "by the dataset's `header` setting"
            )
        return _table(raw, header, first=0)
    rows = [[str(v).strip() for v in raw.iloc[row]] for row in range(min(max_header_row, len(raw)))]
    for row, header in enumerate(rows):
        if set(required) <= set(header):
            return _table(raw, header, first=row + 1)
    if not rows:
        raise DataError(f"{path}: the sheet is empty")
    best = max(range(len(rows)), key=lambda r: (len(set(required) & set(rows[r])), -r))
    missing = {field: column for field, column in columns.items() if column not in rows[best]}
    settings = ", ".join(f"dataset.columns.{field}={column!r}" for field, column in missing.items())
    found = [c for c in rows[best] if c]
    raise DataError(
        f"{path}: no header row in its first {max_header_row} rows holds the columns {list(missing.values())} "
        f"({settings}); the closest, row {best + 1}, holds {found}"
    )


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
