"""What a fold leaves under its log folder, first, whether or not the store then gets it.

    <fold folder>/fold.json          the fold, its config hash, the store and runs it records into, its process
    <fold folder>/stages/<stage>/    (`fold` for a fold of one unnamed stage)
        last.ckpt                    training state at the end of the last finished epoch (while the stage trains)
        epochs.csv                   every figure logged while training: name, value, step, time
        weights.pt                   the net's weights at the end of the stage
        random_state.pt              the random generators' states at the end of the stage
        record/                      metrics.json (figures at its end), split.json, weight_digests.json, artifacts/
        done                         written last: the stage's record is whole
        stored                       the store holds it and its run ended FINISHED
    <fold folder>/result/            the fold's test figures: predictions.csv, test_metrics.json, confusion, lists
        done, stored

A resumed fold reads its folder: a `done` stage is not run again (later stages start from its weights.pt, with the
random generators as it left them), a stage
with a last.ckpt continues from that epoch, and whatever is done but not `stored` is uploaded, by the fold itself,
the sweep's resume or `mer-sync`.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd
import torch
from matplotlib.figure import Figure

from mer_lightning import metrics
from mer_lightning.lit.task import Artifact, TaskResult
from mer_lightning.reports import confusion_figure, confusion_record, fold_scores

INFO = "fold.json"
DONE = "done"
STORED = "stored"


def write_atomic(path: Path, text: str) -> None:
    """Writes a whole file or none (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_json(path: Path, data) -> None:
    write_atomic(path, json.dumps(data, indent=1, default=str))


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


class _Marked:
    """A folder whose `done` and `stored` markers say how far its record got."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def done(self) -> bool:
        return (self.path / DONE).is_file()

    @property
    def stored(self) -> bool:
        return (self.path / STORED).is_file()

    def mark_done(self) -> None:
        write_atomic(self.path / DONE, time.strftime("%Y-%m-%d %H:%M:%S\n"))

    def mark_stored(self) -> None:
        write_atomic(self.path / STORED, time.strftime("%Y-%m-%d %H:%M:%S\n"))


class StageRecord(_Marked):
    """One stage's part of a fold folder."""

    @property
    def checkpoint(self) -> Path:
        return self.path / "last.ckpt"

    @property
    def weights(self) -> Path:
        return self.path / "weights.pt"

    @property
    def epochs(self) -> Path:
        return self.path / "epochs.csv"

    @property
    def random_state(self) -> Path:
        """The random generators' states when the stage ended, for the stages after it when it is not run again."""
        return self.path / "random_state.pt"

    @property
    def record(self) -> Path:
        return self.path / "record"

    def write(self, result: TaskResult, split: Mapping[str, Sequence[str]], digests: Mapping[str, Mapping]) -> None:
        """What the stage measured and rendered, the clips it used, and its modules' digests at start and end."""
        _write_json(self.record / "metrics.json", {k: float(v) for k, v in result.metrics.items()})
        _write_json(self.record / "split.json", {part: list(uids) for part, uids in split.items()})
        _write_json(self.record / "weight_digests.json", {k: dict(v) for k, v in digests.items()})
        write_artifacts(self.record / "artifacts", result.artifacts)

    def finish(self) -> None:
        """Marks the record whole; the training state is no longer needed (the weights are saved)."""
        self.mark_done()
        self.checkpoint.unlink(missing_ok=True)

    def metrics(self) -> dict[str, float]:
        return _read_json(self.record / "metrics.json") or {}

    def files(self) -> list[tuple[Path, str]]:
        """(file, artifact folder) of what the store keeps of the stage beside its figures, weights excluded."""
        kept = [(self.record / name, "") for name in ("split.json", "weight_digests.json")]
        return kept + artifact_files(self.record / "artifacts")

    def epoch_rows(self) -> pd.DataFrame:
        """The figures logged while training, the last value of each (name, step) (a resumed epoch logs again)."""
        if not self.epochs.is_file():
            return pd.DataFrame(columns=["name", "value", "step", "time"])
        rows = pd.read_csv(self.epochs)
        return rows.drop_duplicates(["name", "step"], keep="last").reset_index(drop=True)

    def append_epochs(self, rows: Sequence[tuple[str, float, int, int]]) -> None:
        new = not self.epochs.is_file()
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.epochs, "a", newline="") as file:
            writer = csv.writer(file)
            if new:
                writer.writerow(["name", "value", "step", "time"])
            writer.writerows(rows)

    def load_weights(self) -> dict[str, torch.Tensor]:
        return torch.load(self.weights, map_location="cpu", weights_only=True)


class FoldResult(_Marked):
    """The fold's test figures, as the tested stage left them."""

    def write(
        self,
        table: pd.DataFrame,
        class_names: Sequence[str],
        lists: Mapping[str, Mapping[str, object]],
        epoch_table: pd.DataFrame | None = None,
    ) -> dict[str, float]:
        """The fold's predictions (`reports.predictions_table`), its test figures and confusion matrix computed from
        them, clip lists by name (`skipped_clips`, `repaired_clips`: uid -> why) and, for the oracle audit, the
        per-epoch test predictions; returns the test figures."""
        scores = fold_scores(table, class_names)
        confusion = metrics.confusion(table["label"], table["prediction"], len(class_names))
        write_atomic(self.path / "predictions.csv", table.to_csv(index=False))
        _write_json(self.path / "test_metrics.json", {k: float(v) for k, v in scores.items()})
        _write_json(self.path / "class_names.json", list(class_names))
        _write_json(self.path / "confusion.json", confusion_record(confusion, class_names))
        write_artifacts(self.path, {"confusion.png": confusion_figure(confusion, class_names, "fold confusion")})
        _write_json(self.path / "lists.json", {name: dict(listed) for name, listed in lists.items()})
        if epoch_table is not None:
            write_atomic(self.path / "epoch_predictions.csv", epoch_table.to_csv(index=False))
        return scores

    def scores(self) -> dict[str, float]:
        return _read_json(self.path / "test_metrics.json")

    def class_names(self) -> list[str]:
        return _read_json(self.path / "class_names.json")

    def lists(self) -> dict[str, dict[str, object]]:
        return _read_json(self.path / "lists.json")

    def file(self, name: str) -> Path | None:
        path = self.path / name
        return path if path.is_file() else None


class FoldFolder:
    """The local record of one fold (the fold's Hydra job folder)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.result = FoldResult(self.path / "result")

    @property
    def info(self) -> dict | None:
        return _read_json(self.path / INFO)

    def save_info(self, info: Mapping) -> None:
        _write_json(self.path / INFO, dict(info))

    def update_info(self, **changes) -> dict:
        info = {**(self.info or {}), **changes}
        self.save_info(info)
        return info

    def stage(self, name: str) -> StageRecord:
        return StageRecord(self.path / "stages" / (name or "fold"))

    @property
    def pending(self) -> bool:
        """Tested, but the store does not hold it yet."""
        return self.result.done and not self.result.stored


def fold_folders(root: str | Path) -> Iterator[FoldFolder]:
    """Every fold folder under `root` (itself included), in path order."""
    root = Path(root)
    for info in sorted([root / INFO] if (root / INFO).is_file() else root.rglob(INFO)):
        yield FoldFolder(info.parent)


def write_artifacts(folder: Path, artifacts: Mapping[str, Artifact]) -> None:
    """Artifacts a task or callback rendered (path -> figure, text or JSON-able data), as files under their paths."""
    for name, artifact in artifacts.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(artifact, str):
            write_atomic(path, artifact)
        elif isinstance(artifact, Figure):
            artifact.savefig(path)
        else:
            _write_json(path, artifact)


def artifact_files(folder: Path) -> list[tuple[Path, str]]:
    """(file, its folder relative to `folder`, "" at the top) of every file under `folder`."""
    if not folder.is_dir():
        return []
    files = [file for file in sorted(folder.rglob("*")) if file.is_file() and file.suffix != ".tmp"]
    return [(file, file.parent.relative_to(folder).as_posix().removeprefix(".")) for file in files]
