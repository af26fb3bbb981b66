"""What a fold's or a sweep's predictions say, as tables and figures: pure functions, no MLflow.

The tracker (`tracking.py`) writes what these compute. Headline UF1/UAR are computed on the predictions pooled over
all folds (MEGC 2019), never averaged over folds, with 95% intervals from a subject-level bootstrap; every figure comes
from `metrics.py`, the one place UF1/UAR are defined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mer_lightning import metrics
from mer_lightning.clip import Clip

# The last row of a per-dataset table: every dataset's clips together.
POOLED = "pooled"


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
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # 95%, subject-level bootstrap
    transfer: pd.DataFrame = field(default_factory=pd.DataFrame)  # UF1 by training and test dataset
    missing_folds: list[str] = field(default_factory=list)
    failed_folds: list[str] = field(default_factory=list)
    run_id: str = ""
    oracle: dict[str, float] | None = None
    n_expected: int = 0  # folds the sweep expected (0: not known, as for predictions pooled by hand)

    @property
    def complete(self) -> bool:
        """Every expected fold finished: only then are the pooled figures the sweep's result."""
        return not self.missing_folds and not self.failed_folds

    def headline(self) -> str:
        """`UF1 0.8123 [0.7610, 0.8590]  UAR ...`: the pooled figures with their 95% intervals."""
        parts = []
        for name in ("uf1", "uar"):
            low, high = self.intervals.get(name, (float("nan"), float("nan")))
            parts.append(f"{name.upper()} {self.pooled[name]:.4f} [{low:.4f}, {high:.4f}]")
        return "  ".join([*parts, f"accuracy {self.pooled['accuracy']:.4f}"])

    def report(self) -> str:
        lines = []
        if not self.complete:
            finished = self.n_expected - len(self.missing_folds) - len(self.failed_folds)
            lines += [
                f"INCOMPLETE: {finished} of {self.n_expected} folds finished (missing: {self.missing_folds}, "
                f"failed: {self.failed_folds}); the figures below pool those {finished} folds only and are "
                "not the sweep's result",
                "",
            ]
        lines += [
            f"pooled over {self.pooled['n']} clips: {self.headline()}",
            f"average accuracy (mean of per-class accuracies) {self.pooled['average_accuracy']:.4f}  "
            f"overall accuracy {self.pooled['overall_accuracy']:.4f}",
            "(in brackets: 95% intervals, the subjects drawn again with replacement)",
            "",
            "per class:",
            self.per_class.to_string(float_format="%.4f"),
            "",
            "per subject (UF1/UAR over the classes in that subject's ground truth):",
            self.per_subject.to_string(float_format="%.4f"),
        ]
        if len(self.per_dataset) > 1:
            lines += ["", "per dataset:", self.per_dataset.to_string(float_format="%.4f")]
        if len(self.transfer) > 1:
            lines += [
                "",
                "UF1 by training datasets (rows) and test dataset (columns); the pooled figures above "
                "count a clip once per fold that tested it:",
                self.transfer.to_string(float_format="%.4f"),
            ]
        if self.oracle:
            lines += [
                "",
                f"AUDIT ONLY, not a result: had each fold kept its best test epoch, UF1 would read "
                f"{self.oracle['uf1']:.4f} and UAR {self.oracle['uar']:.4f}",
            ]
        if self.missing_folds or self.failed_folds:
            lines += ["", f"missing folds: {self.missing_folds}", f"failed folds: {self.failed_folds}"]
        return "\n".join(lines)


def confusion_record(confusion: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """A confusion matrix as stored (`confusion.json`): the classes, the counts and each row's rates."""
    return {
        "classes": list(class_names),
        "matrix": confusion.tolist(),
        "row_rates": metrics.row_rates(confusion).tolist(),
    }


def summarize_predictions(table: pd.DataFrame, class_names: Sequence[str], resamples: int = 2000) -> Summary:
    """Pooled UF1/UAR/accuracy over every row with their 95% subject-level bootstrap intervals (`resamples` draws),
    per-class, per-subject and per-dataset breakdowns (the last, for several datasets, ends with their pooled row),
    and, when the table says what each fold trained on (a `trained_on` column), UF1 by training and test dataset."""
    k = len(class_names)
    confusion = metrics.confusion(table["label"], table["prediction"], k)
    pooled = metrics.scores(table["label"], table["prediction"], k)
    per_class = pd.DataFrame(
        {
            "f1": metrics.per_class_f1(confusion),
            "recall": metrics.per_class_recall(confusion),
            "support": confusion.sum(axis=1),
        },
        index=pd.Index(class_names, name="class"),
    )

    def breakdown(column: str) -> pd.DataFrame:
        rows = {
            name: metrics.scores(group["label"], group["prediction"], k, present_only=column == "subject")
            for name, group in table.groupby(column, sort=True)
        }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis(column)

    intervals = metrics.bootstrap_interval(table["label"], table["prediction"], table["subject"], k, resamples)
    transfer = transfer_matrix(table, class_names) if "trained_on" in table else pd.DataFrame()
    per_dataset = breakdown("dataset")
    if len(per_dataset) > 1:  # the datasets side by side, then together (general, micro, mixed)
        per_dataset.loc[POOLED] = pooled
    return Summary(
        pooled, per_class, breakdown("subject"), per_dataset, confusion, list(class_names), intervals, transfer
    )


def transfer_matrix(table: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """Pooled UF1 of the predictions of each (training datasets, test dataset) pair: rows `trained_on`, columns
    `dataset`, empty where no fold trained on the row and tested on the column (a cross-dataset sweep's matrix)."""
    cells = {
        (trained_on, dataset): metrics.scores(group["label"], group["prediction"], len(class_names))["uf1"]
        for (trained_on, dataset), group in table.groupby(["trained_on", "dataset"], sort=True)
    }
    matrix = pd.Series(cells).unstack()
    matrix.index.name, matrix.columns.name = "trained on", "tested on"
    return matrix


def comparison_table(figures: Mapping[str, Mapping[str, float]], overrides: Mapping[str, str]) -> pd.DataFrame:
    """One row per sweep (`figures`: sweep id -> its summary run's metrics; `overrides`: sweep id -> the command-line
    overrides it ran with): what sets it apart from the others (the overrides they do not all share), its pooled
    UF1, UAR and accuracy, its clips, its missing or failed folds, and per-dataset UF1/UAR/accuracy when it has them."""
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
        row.update(
            {name: value for name, value in sorted(measured.items()) if name.endswith(("/uf1", "/uar", "/accuracy"))}
        )
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


def _bars(table: pd.DataFrame, title: str, xlabel: str) -> Figure:
    """UF1 and UAR side by side for each row of `table` (one bar pair per subject or dataset)."""
    figure = Figure(figsize=(max(6.0, 0.5 * len(table) + 3), 4.2))
    axes = figure.add_subplot()
    positions = np.arange(len(table))
    for offset, name in ((-0.2, "uf1"), (0.2, "uar")):
        axes.bar(positions + offset, table[name], width=0.4, label=name.upper())
    axes.set_xticks(positions, [str(i) for i in table.index], rotation=45, ha="right", fontsize=8)
    axes.set_ylim(0, 1.05)
    axes.set_xlabel(xlabel)
    axes.set_title(title, fontsize=10)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)  # beside the bars, never over one
    figure.tight_layout()
    return figure


def subject_figure(per_subject: pd.DataFrame) -> Figure:
    """Per-subject UF1/UAR (over the classes in each subject's ground truth), with its clip count in the label."""
    labelled = per_subject.set_axis([f"{s} ({int(n)})" for s, n in zip(per_subject.index, per_subject["n"])])
    return _bars(labelled, "UF1 and UAR per subject\n(over the classes in each subject's clips)", "subject (clips)")


def dataset_figure(per_dataset: pd.DataFrame) -> Figure:
    labelled = per_dataset.set_axis([f"{d} ({int(n)})" for d, n in zip(per_dataset.index, per_dataset["n"])])
    return _bars(labelled, "pooled UF1 and UAR per dataset", "dataset (clips)")


def loss_figure(curves: Mapping[str, Sequence[float]], title: str = "training loss per epoch, every fold") -> Figure:
    """Every fold's training loss by epoch in one chart (a fold that diverged or never learned stands out)."""
    figure = Figure(figsize=(6.5, 3.8))
    axes = figure.add_subplot()
    for fold, losses in sorted(curves.items()):
        axes.plot(
            np.arange(1, len(losses) + 1),
            losses,
            marker="o" if len(losses) < 15 else None,
            markersize=3,
            label=fold,
            linewidth=1,
        )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("train/loss")
    axes.set_title(title)
    if 0 < len(curves) <= 12:
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    figure.tight_layout()
    return figure


def transfer_figure(matrix: pd.DataFrame) -> Figure:
    """The cross-dataset matrix: UF1 of each (training datasets, test dataset) pair, blank where none was run."""
    figure = Figure(figsize=(1.4 * len(matrix.columns) + 3, 1.0 * len(matrix) + 2))
    axes = figure.add_subplot()
    values = matrix.to_numpy(dtype=float)
    axes.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(values):
        if not np.isnan(value):
            axes.text(j, i, f"{value:.3f}", ha="center", va="center", color="white" if value > 0.6 else "black")
    axes.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=45, ha="right")
    axes.set_yticks(range(len(matrix)), matrix.index)
    axes.set_xlabel("tested on")
    axes.set_ylabel("trained on")
    axes.set_title("UF1, training datasets x test dataset")
    figure.tight_layout()
    return figure


def prediction_figure(
    images: Mapping[str, np.ndarray],
    motion: np.ndarray,
    onset: int,
    apex: int,
    spotted: bool,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    title: str,
) -> Figure:
    """What `mer-predict` saw and said: the onset, apex and offset frames, each frame's motion from the onset with
    the apex marked (spotted or given), and the class probabilities."""
    figure = Figure(figsize=(9, 5.6))
    grid = figure.add_gridspec(2, 3, height_ratios=[1.1, 1])
    for column, (name, image) in enumerate(images.items()):
        axes = figure.add_subplot(grid[0, column])
        axes.imshow(image)
        axes.set_title(name, fontsize=9)
        axes.axis("off")
    curve = figure.add_subplot(grid[1, :2])
    frames = np.arange(onset, onset + len(motion))
    curve.plot(frames, motion, color="tab:gray")
    curve.axvline(apex, color="tab:red", linestyle="--", label=f"apex {apex} ({'spotted' if spotted else 'given'})")
    curve.xaxis.set_major_locator(MaxNLocator(integer=True))
    curve.set_xlabel("frame")
    curve.set_ylabel("motion from the onset")
    curve.legend(fontsize=8, loc="upper left")
    bars = figure.add_subplot(grid[1, 2])
    positions = np.arange(len(class_names))
    bars.barh(
        positions, probabilities, color=["tab:blue" if i == np.argmax(probabilities) else "tab:gray" for i in positions]
    )
    for position, probability in zip(positions, probabilities):
        bars.text(min(probability + 0.02, 0.8), float(position), f"{probability:.2f}", va="center", fontsize=8)
    bars.set_yticks(positions, class_names, fontsize=8)
    bars.invert_yaxis()
    bars.set_xlim(0, 1)
    bars.set_xlabel("probability")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def class_names_of(table: pd.DataFrame) -> list[str]:
    """The classes of a predictions table, in order (its `p_<class>` columns)."""
    return [column[2:] for column in table.columns if column.startswith("p_")]


@dataclass
class Comparison:
    """Two sweeps on the clips both tested: each one's pooled figures with its 95% subject-level bootstrap interval,
    and the paired test of their difference (`metrics.paired_test`)."""

    clips: int
    subjects: int
    only_a: int  # clips only sweep A tested (left out of the comparison)
    only_b: int
    intervals: dict[str, dict[str, tuple[float, float]]]  # "a"/"b" -> metric -> (low, high)
    tests: dict[str, metrics.PairedTest]

    def report(self, name_a: str, name_b: str) -> str:
        lines = [
            f"on the {self.clips} clips of {self.subjects} subjects both sweeps tested"
            + (
                f" ({self.only_a} tested by A only and {self.only_b} by B only are left out)"
                if self.only_a or self.only_b
                else ""
            )
            + ":"
        ]
        for side, name in (("a", name_a), ("b", name_b)):
            figures = "  ".join(
                f"{m.upper()} {getattr(self.tests[m], side):.4f} [{self.intervals[side][m][0]:.4f}, "
                f"{self.intervals[side][m][1]:.4f}]"
                for m in ("uf1", "uar")
            )
            lines.append(f"  {side.upper()}  {figures}  {name}")
        for name, test in self.tests.items():
            how = f"exact, all {test.permutations} swaps" if test.exact else f"{test.permutations} random swaps"
            lines.append(
                f"  A - B  {name.upper()} {test.difference:+.4f} [{test.interval[0]:+.4f}, "
                f"{test.interval[1]:+.4f}]  p = {test.p_value:.4f} (paired permutation over {test.subjects} "
                f"subjects, {how})"
            )
        lines.append(
            "(in brackets: 95% intervals, subjects drawn again with replacement; p: two-sided, how often "
            "swapping the two sweeps' predictions subject by subject gives a difference at least this large)"
        )
        return "\n".join(lines)

    def figures(self) -> dict[str, float]:
        """Flat figures, as metrics of the comparison run."""
        values: dict[str, float] = {"n_clips": self.clips, "n_subjects": self.subjects}
        for name, test in self.tests.items():
            values.update(
                {
                    f"{name}_a": test.a,
                    f"{name}_b": test.b,
                    f"{name}_difference": test.difference,
                    f"{name}_difference_ci_low": test.interval[0],
                    f"{name}_difference_ci_high": test.interval[1],
                    f"{name}_p_value": test.p_value,
                }
            )
            for side in ("a", "b"):
                values[f"{name}_{side}_ci_low"], values[f"{name}_{side}_ci_high"] = self.intervals[side][name]
        return values


def compare_predictions(
    table_a: pd.DataFrame, table_b: pd.DataFrame, resamples: int = 2000, permutations: int = 10000, seed: int = 0
) -> Comparison:
    """Sweep A against sweep B on the clips both tested (pooled predictions tables, one row per clip)."""
    classes = class_names_of(table_a)
    if classes != class_names_of(table_b):
        raise ValueError(f"the sweeps predict different classes: {classes} and {class_names_of(table_b)}")
    for name, table in (("A", table_a), ("B", table_b)):
        if not table["clip"].is_unique:
            raise ValueError(
                f"sweep {name} tests some clips more than once (a cross-dataset matrix?): compare sweeps "
                "whose folds test each clip once"
            )
    both = table_a.merge(table_b, on="clip", suffixes=("_a", "_b"))
    if both.empty:
        raise ValueError("the sweeps tested no clip in common")
    differ = both[both["label_a"] != both["label_b"]]
    if len(differ):
        raise ValueError(f"the sweeps label clip {differ['clip'].iloc[0]} differently: not the same data")
    k = len(classes)
    intervals = {
        side: metrics.bootstrap_interval(
            both["label_a"], both[f"prediction_{side}"], both["subject_a"], k, resamples, seed=seed
        )
        for side in ("a", "b")
    }
    tests = metrics.paired_test(
        both["label_a"],
        both["prediction_a"],
        both["prediction_b"],
        both["subject_a"],
        k,
        resamples,
        permutations,
        seed=seed,
    )
    return Comparison(
        len(both), both["subject_a"].nunique(), len(table_a) - len(both), len(table_b) - len(both), intervals, tests
    )
