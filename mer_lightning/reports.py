"""What a fold's or a sweep's predictions say, as tables and figures: pure functions, no MLflow.

The tracker (`tracking.py`) writes what these compute. Headline UF1/UAR are computed on the predictions pooled over
all folds (MEGC 2019), never averaged over folds; every figure comes from `metrics.py`, the one place UF1/UAR are
defined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mer_lightning import metrics
from mer_lightning.clip import Clip


def predictions_table(
    clips: Sequence[Clip], clip_ids: np.ndarray, labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """One row per test clip: clip, subject, dataset, label, prediction and the class probabilities."""
    table = pd.DataFrame(
        {
            "clip": [clips[i].uid for i in clip_ids],
            "subject": [clips[i].subject for i in clip_ids],
            "dataset": [clips[i].dataset for i in clip_ids],
            "label": labels.astype(int),
            "prediction": probs.argmax(1).astype(int),
        }
    )
    for index, name in enumerate(class_names):
        table[f"p_{name}"] = probs[:, index]
    return table


def fold_scores(table: pd.DataFrame, class_names: Sequence[str]) -> dict[str, float]:
    """A fold's test figures: UF1/UAR over the classes present in its ground truth, accuracy, and per-class F1 and
    recall of those classes (`f1_<class>`, `recall_<class>`)."""
    k = len(class_names)
    scores = metrics.scores(table["label"], table["prediction"], k, present_only=True)
    confusion = metrics.confusion(table["label"], table["prediction"], k)
    f1, recall = metrics.per_class_f1(confusion), metrics.per_class_recall(confusion)
    for index in sorted(set(table["label"].astype(int))):
        scores[f"f1_{class_names[index]}"] = float(f1[index])
        scores[f"recall_{class_names[index]}"] = float(recall[index])
    return scores


@dataclass
class Summary:
    """Pooled and broken-down figures of a sweep, as logged to its summary run."""

    pooled: dict[str, float]
    per_class: pd.DataFrame
    per_subject: pd.DataFrame
    per_dataset: pd.DataFrame
    confusion: np.ndarray
    class_names: list[str]
    missing_folds: list[str] = field(default_factory=list)
    failed_folds: list[str] = field(default_factory=list)
    run_id: str = ""
    oracle: dict[str, float] | None = None

    def report(self) -> str:
        lines = [
            f"pooled over {self.pooled['n']} clips: UF1 {self.pooled['uf1']:.4f}  UAR {self.pooled['uar']:.4f}  "
            f"accuracy {self.pooled['accuracy']:.4f}",
            f"average accuracy (mean of per-class accuracies) {self.pooled['average_accuracy']:.4f}  "
            f"overall accuracy {self.pooled['overall_accuracy']:.4f}",
            "", "per class:", self.per_class.to_string(float_format="%.4f"),
            "", "per subject (UF1/UAR over the classes in that subject's ground truth):",
            self.per_subject.to_string(float_format="%.4f"),
        ]
        if len(self.per_dataset) > 1:
            lines += ["", "per dataset:", self.per_dataset.to_string(float_format="%.4f")]
        if self.oracle:
            lines += ["", f"AUDIT ONLY, not a result: had each fold kept its best test epoch, UF1 would read "
                          f"{self.oracle['uf1']:.4f} and UAR {self.oracle['uar']:.4f}"]
        if self.missing_folds or self.failed_folds:
            lines += ["", f"missing folds: {self.missing_folds}", f"failed folds: {self.failed_folds}"]
        return "\n".join(lines)


def summarize_predictions(table: pd.DataFrame, class_names: Sequence[str]) -> Summary:
    """Pooled UF1/UAR/accuracy over every row, with per-class, per-subject and per-dataset breakdowns."""
    k = len(class_names)
    confusion = metrics.confusion(table["label"], table["prediction"], k)
    pooled = metrics.scores(table["label"], table["prediction"], k)
    per_class = pd.DataFrame(
        {"f1": metrics.per_class_f1(confusion), "recall": metrics.per_class_recall(confusion),
         "support": confusion.sum(axis=1)},
        index=pd.Index(class_names, name="class"),
    )

    def breakdown(column: str) -> pd.DataFrame:
        rows = {
            name: metrics.scores(group["label"], group["prediction"], k, present_only=column == "subject")
            for name, group in table.groupby(column, sort=True)
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis(column)

    return Summary(pooled, per_class, breakdown("subject"), breakdown("dataset"), confusion, list(class_names))


def comparison_table(figures: Mapping[str, Mapping[str, float]], overrides: Mapping[str, str]) -> pd.DataFrame:
    """One row per sweep (`figures`: sweep id -> its summary run's metrics; `overrides`: sweep id -> the command-line
    overrides it ran with): what sets it apart from the others (the overrides they do not all share), its pooled
    UF1, UAR and accuracy, its clips, its missing or failed folds, and per-dataset UF1/UAR when it has them."""
    split = {sweep: text.split() for sweep, text in overrides.items()}
    shared = set.intersection(*(set(words) for words in split.values())) if split else set()
    rows = {}
    for sweep, measured in figures.items():
        row: dict[str, str | float] = {
            "setting": " ".join(w for w in split.get(sweep, []) if w not in shared) or "(as configured)"
        }
        row.update({name: measured.get(name, np.nan) for name in ("uf1", "uar", "accuracy")})
        row["clips"] = int(measured.get("n_clips", 0))
        row["folds missing or failed"] = int(measured.get("n_folds_missing_or_failed", 0))
        row.update({name: value for name, value in sorted(measured.items()) if name.endswith(("/uf1", "/uar"))})
        rows[sweep] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("sweep")


def best_test_epoch(epochs: pd.DataFrame) -> pd.DataFrame:
    """The predictions of the epoch with the best test accuracy (ties to the earliest): the oracle's choice."""
    accuracy = (epochs["label"] == epochs["prediction"]).groupby(epochs["epoch"]).mean()
    return epochs[epochs["epoch"] == accuracy.idxmax()]


def confusion_figure(confusion: np.ndarray, class_names: Sequence[str], title: str) -> Figure:
    """The confusion matrix as papers draw it: each cell shows its count and its row rate (the share of that true
    class's clips), shaded by the rate so that classes of any size read alike."""
    rates = metrics.row_rates(confusion)
    size = 1.3 * len(class_names)
    figure = Figure(figsize=(size + 2.2, size + 1.6))
    axes = figure.add_subplot()
    image = axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(confusion):
        colour = "white" if rates[i, j] > 0.6 else "black"
        axes.text(j, i, f"{count}\n{rates[i, j]:.1%}", ha="center", va="center", color=colour)
    axes.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    figure.tight_layout()
    return figure
