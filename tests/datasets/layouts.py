"""Miniature official layouts for reader tests: the synthetic generator's tiny clips, written by a release's layout
writer into tmp_path, read back through the release's Hydra config, and edited to plant a release's slips."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import openpyxl
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer_lightning.datasets.base import ClipDataset
from mer_lightning.datasets.synthetic import WRITERS, RenderedClip, SyntheticSettings, render_dataset

CONF = str(Path(__file__).parents[2] / "conf")
# Two subjects of eight clips each (every CASME II emotion but fear appears), 6-8 frames of 32x32.
SETTINGS = SyntheticSettings(subjects=2, clips_per_subject=8, min_frames=6, max_frames=8, height=32, width=32)


@functools.cache
def rendered() -> tuple[RenderedClip, ...]:
    return tuple(render_dataset(SETTINGS))


def write(layout: str, root: Path) -> Path:
    """`root` holding the miniature release of `layout`."""
    return WRITERS[layout](root, rendered(), SETTINGS)


def reader(config: str, root: Path | None = None, *overrides: str) -> ClipDataset:
    """The reader of `dataset=config`, as `mer-train` would build it."""
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=[f"dataset={config}", *([f"dataset.root={root}"] if root else []), *overrides])
    return instantiate(cfg.dataset)


def edit_sheet(path: Path, match: Mapping[str | int, object], values: Mapping[str | int, object]) -> int:
    """Sets `values` in the first row of the workbook's first tab whose cells equal `match`; columns are header
    names (the header row is found below any notes) or 0-based positions. Returns the row's spreadsheet number."""
    book = openpyxl.load_workbook(path)
    rows = list(book.worksheets[0].iter_rows())
    names = [k for k in (*match, *values) if isinstance(k, str)]
    header: dict[str, int] = {}
    if names:
        header_row = next(r for r in rows if set(names) <= {c.value for c in r})
        header = {c.value: i for i, c in enumerate(header_row)}

    def column(key: str | int) -> int:
        return key if isinstance(key, int) else header[key]

    for row in rows:
        if all(str(row[column(k)].value) == str(v) for k, v in match.items()):
            for key, value in values.items():
                row[column(key)].value = value
            book.save(path)
            return row[0].row
    raise LookupError(f"{path}: no row with {dict(match)}")
