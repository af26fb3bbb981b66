"""`mer-data describe dataset=... [dataset.root=...]`: the table to check before training on a dataset.

Reads the dataset exactly as training does (same config groups) and prints its clips per class and source dataset,
per subject, the frame counts and durations from onset to offset (each source's `fps`), every repair the reader
made, and, for a composite restricted by a membership list, the listed clips the copy lacks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import hydra
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from mer_lightning.clip import Clip
from mer_lightning.datasets.base import ClipDataset, DataError
from mer_lightning.datasets.composite import CompositeDataset

CONFIG_DIR = os.environ.get("MER_CONFIG_DIR", str(Path(__file__).resolve().parents[1] / "conf"))
USAGE = "usage: mer-data describe dataset=NAME [dataset.root=/path/to/release ...] (Hydra overrides)"


def _counts(clips: Sequence[Clip], by: str, classes: Sequence[str]) -> pd.DataFrame:
    """Clips per `by` value and class, with totals."""
    table = pd.crosstab(
        pd.Series([getattr(c, by) for c in clips], name=by),
        pd.Categorical([classes[c.label] for c in clips], categories=list(classes), ordered=True),
        margins=True, margins_name="total", dropna=False,
    )
    table.columns.name = None
    return table


def _durations(clips: Sequence[Clip], frame_rates: dict[str, float | None]) -> pd.DataFrame:
    """Per source dataset: frames from onset to offset, and the same in milliseconds at the dataset's fps."""
    rows = {}
    for dataset in sorted({c.dataset for c in clips}):
        frames = pd.Series([c.offset - c.onset + 1 for c in clips if c.dataset == dataset])
        fps = frame_rates.get(dataset)
        row = {"fps": fps or "?", "clips": len(frames),
               "frames min": frames.min(), "median": frames.median(), "max": frames.max()}
        for key, value in (("ms min", frames.min()), ("ms median", frames.median()), ("ms max", frames.max())):
            row[key] = round(1000 * value / fps) if fps else "?"
        rows[dataset] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("dataset")


def describe(dataset: ClipDataset) -> str:
    """The report `mer-data describe` prints."""
    clips = dataset.clips()
    classes = dataset.class_names
    lines = [
        f"dataset {dataset.name}: {len(clips)} clips of {len({c.subject for c in clips})} subjects, "
        f"scheme {dataset.scheme.name} ({', '.join(classes)})",
    ]
    if not clips:
        return "\n".join(lines)
    lines += ["", "clips per class:", _counts(clips, "dataset", classes).to_string()]
    lines += ["", "clips per subject:", _counts(clips, "subject", classes).to_string()]
    lines += ["", "frames and durations, onset to offset:",
              _durations(clips, dataset.frame_rates()).to_string(float_format=lambda v: f"{v:g}")]
    repaired = [c for c in clips if c.repairs]
    per_dataset = pd.Series([c.dataset for c in repaired], dtype=str).value_counts().sort_index()
    by_dataset = ", ".join(f"{name} {count}" for name, count in per_dataset.items())
    lines += ["", f"repairs: {len(repaired)} clips" + (f" ({by_dataset}):" if repaired else "")]
    lines += [f"  {c.uid}: {'; '.join(c.repairs)}" for c in repaired]
    if isinstance(dataset, CompositeDataset) and dataset.members is not None:
        missing = dataset.missing_members
        lines += ["", f"membership list {dataset.members}: {len(missing)} listed clips not in this copy (or dropped "
                      f"by scheme {dataset.scheme.name})" + (":" if missing else "")]
        lines += [f"  {uid}" for uid in missing]
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="describe")
def _describe(cfg: DictConfig) -> None:
    try:
        print(describe(instantiate(cfg.dataset)))
    except DataError as err:
        sys.exit(f"mer-data describe: {err}")


COMMANDS = {"describe": _describe}


def main() -> None:
    """`mer-data COMMAND overrides...`: the command is taken off the arguments before Hydra reads them."""
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(USAGE)
    COMMANDS[sys.argv.pop(1)]()


if __name__ == "__main__":
    main()
