"""`mer-data describe dataset=... [dataset.root=...]`: the table to check before training on a dataset.

Reads the dataset exactly as training does (same config groups) and prints the files it read (each sheet, so that a
release with several says which), its clips per class and source dataset, the clips the class scheme leaves out (by
emotion), clips per subject, the frame counts and durations from onset to offset (each source's `fps`), every
repair the reader made, and, for a composite restricted by a membership list, the listed clips the copy lacks.
With `on_error=skip` the clips that cannot be used are listed instead of stopping at the first.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import hydra
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig

from mer_lightning.clip import Clip
from mer_lightning.configs import CONFIG_DIR
from mer_lightning.datasets.base import ClipDataset, ReadReport, Skipped
from mer_lightning.datasets.composite import CompositeDataset
from mer_lightning.input_errors import reports_input_errors

USAGE = "usage: mer-data describe dataset=NAME [dataset.root=/path/to/release ...] (Hydra overrides)"


def _counts(clips: Sequence[Clip], by: str, classes: Sequence[str]) -> pd.DataFrame:
    """Clips per `by` value and class, with totals."""
    table = pd.crosstab(
        pd.Series([getattr(c, by) for c in clips], name=by),
        pd.Categorical([classes[c.label] for c in clips], categories=list(classes), ordered=True),
        margins=True,
        margins_name="total",
        dropna=False,
    )
    table.columns.name = None
    return table


def _durations(clips: Sequence[Clip], frame_rates: dict[str, float | None]) -> pd.DataFrame:
    """Per source dataset: frames from onset to offset, and the same in milliseconds at the dataset's fps."""
    rows = {}
    for dataset in sorted({c.dataset for c in clips}):
        frames = pd.Series([c.offset - c.onset + 1 for c in clips if c.dataset == dataset])
        fps = frame_rates.get(dataset)
        row = {
            "fps": fps or "?",
            "clips": len(frames),
            "frames min": frames.min(),
            "median": frames.median(),
            "max": frames.max(),
        }
        for key, value in (("ms min", frames.min()), ("ms median", frames.median()), ("ms max", frames.max())):
            row[key] = round(1000 * value / fps) if fps else "?"
        rows[dataset] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("dataset")


def _read(report: ReadReport, scheme: str) -> list[str]:
    """The files read, and per source dataset the clips the scheme leaves out, by emotion."""
    lines = [f"read {what}: {path}" for what, path in report.sources.items()]
    for source in sorted({dataset for dataset, _ in report.dropped}):
        dropped = sorted(((n, e) for (d, e), n in report.dropped.items() if d == source), key=lambda x: (-x[0], x[1]))
        lines.append(
            f"scheme {scheme} leaves out {sum(n for n, _ in dropped)} {source} clips: "
            + ", ".join(f"{emotion} {n}" for n, emotion in dropped)
        )
    return lines


def describe(dataset: ClipDataset, skipped: Skipped | None = None) -> str:
    """The report `mer-data describe` prints; with a `skipped` dict, the clips that cannot be used are listed."""
    clips = dataset.clips(skipped)
    classes = dataset.class_names
    lines = [
        f"dataset {dataset.name}: {len(clips)} clips of {len({c.subject for c in clips})} subjects, "
        f"scheme {dataset.scheme.name} ({', '.join(classes)})",
        *_read(dataset.report, dataset.scheme.name),
    ]
    if skipped:
        lines += ["", f"unusable, left out: {len(skipped)}"] + [f"  {reason}" for reason in skipped.values()]
    if not clips:
        return "\n".join(lines)
    lines += ["", "clips per class:", _counts(clips, "dataset", classes).to_string()]
    lines += ["", "clips per subject:", _counts(clips, "subject", classes).to_string()]
    lines += [
        "",
        "frames and durations, onset to offset:",
        _durations(clips, dataset.frame_rates()).to_string(float_format=lambda v: f"{v:g}"),
    ]
    repaired = [c for c in clips if c.repairs]
    per_dataset = pd.Series([c.dataset for c in repaired], dtype=str).value_counts().sort_index()
    by_dataset = ", ".join(f"{name} {count}" for name, count in per_dataset.items())
    lines += ["", f"repairs: {len(repaired)} clips" + (f" ({by_dataset}):" if repaired else "")]
    lines += [f"  {c.uid}: {'; '.join(c.repairs)}" for c in repaired]
    if isinstance(dataset, CompositeDataset) and dataset.members is not None:
        missing = dataset.missing_members
        lines += [
            "",
            f"membership list {dataset.members}: {len(missing)} listed clips not in this copy (or dropped "
            f"by scheme {dataset.scheme.name})" + (":" if missing else ""),
        ]
        lines += [f"  {uid}" for uid in missing]
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="describe")
@reports_input_errors
def _describe(cfg: DictConfig) -> None:
    print(describe(instantiate(cfg.dataset), {} if cfg.on_error == "skip" else None))


COMMANDS = {"describe": _describe}


def main() -> None:
    """`mer-data COMMAND overrides...`: the command is taken off the arguments before Hydra reads them."""
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(USAGE)
    COMMANDS[sys.argv.pop(1)]()


if __name__ == "__main__":
    main()
