"""UF1, UAR, accuracy and confusion on label arrays, as MEGC 2019 defines them.

UF1 is the mean over classes of F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c); UAR the mean over classes of
TP_c / N_c. Meta-MMFNet's tables add "average accuracy" (the mean over classes of each class's accuracy, TP_c / N_c:
by definition the same number as UAR) and "overall accuracy" (the fraction of clips right, `accuracy`); `scores`
gives both under those names. Headline figures pool the predictions of every fold before computing them. For one subject, whose
ground truth may lack classes, `labels` restricts the means to the classes present in that subject's ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Labels = Sequence[int] | np.ndarray  # class indices, as a list or an integer array


def confusion(y_true: Labels, y_pred: Labels, num_classes: int) -> np.ndarray:
    """`C[i, j]` counts clips of true class i predicted as j."""
    true, pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if true.shape != pred.shape:
        raise ValueError(f"{len(true)} labels but {len(pred)} predictions")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true, pred), 1)
    return matrix


def per_class_f1(matrix: np.ndarray) -> np.ndarray:
    tp = np.diag(matrix).astype(float)
    denominator = 2 * tp + (matrix.sum(axis=0) - tp) + (matrix.sum(axis=1) - tp)
    f1: np.ndarray = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1


def per_class_recall(matrix: np.ndarray) -> np.ndarray:
    tp = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1).astype(float)
    recall: np.ndarray = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    return recall


def row_rates(matrix: np.ndarray) -> np.ndarray:
    """Each row of a confusion matrix over its total: the share of a true class's clips given each prediction (its
    diagonal is the per-class recall); rows of a class with no clip stay zero."""
    support = matrix.sum(axis=1, keepdims=True).astype(float)
    rates: np.ndarray = np.divide(matrix, support, out=np.zeros(matrix.shape), where=support > 0)
    return rates


def _classes(matrix: np.ndarray, labels: Labels | None) -> np.ndarray:
    return np.arange(len(matrix)) if labels is None else np.asarray(sorted(set(labels)), dtype=int)


def uf1(matrix: np.ndarray, labels: Labels | None = None) -> float:
    """Unweighted (macro) F1 over `labels` (all classes when `None`)."""
    return float(per_class_f1(matrix)[_classes(matrix, labels)].mean())


def uar(matrix: np.ndarray, labels: Labels | None = None) -> float:
    """Unweighted average recall over `labels` (all classes when `None`)."""
    return float(per_class_recall(matrix)[_classes(matrix, labels)].mean())


def accuracy(matrix: np.ndarray) -> float:
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else 0.0


def average_accuracy(matrix: np.ndarray, labels: Labels | None = None) -> float:
    """The mean over `labels` (all classes when `None`) of each class's accuracy, its clips recognised / its clips:
    Meta-MMFNet's "average accuracy", which is UAR under another name."""
    return uar(matrix, labels)


def scores(y_true: Labels, y_pred: Labels, num_classes: int, present_only: bool = False) -> dict[str, float]:
    """UF1, UAR, accuracy, average and overall accuracy, and support; `present_only` averages over the classes in
    `y_true` (per-subject figures)."""
    matrix = confusion(y_true, y_pred, num_classes)
    labels = np.unique(np.asarray(y_true, dtype=int)) if present_only else None
    return {"uf1": uf1(matrix, labels), "uar": uar(matrix, labels), "accuracy": accuracy(matrix),
            "average_accuracy": average_accuracy(matrix, labels), "overall_accuracy": accuracy(matrix),
            "n": int(matrix.sum())}
