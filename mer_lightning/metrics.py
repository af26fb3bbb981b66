"""UF1, UAR, accuracy and confusion on label arrays, as MEGC 2019 defines them.

UF1 is the mean over classes of F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c); UAR the mean over classes of
TP_c / N_c. Meta-MMFNet's tables add "average accuracy" (the mean over classes of each class's accuracy, TP_c / N_c:
by definition the same number as UAR) and "overall accuracy" (the fraction of clips right, `accuracy`); `scores`
gives both under those names. Headline figures pool the predictions of every fold before computing them. For one
subject, whose ground truth may lack classes, `labels` restricts the means to the classes present in that subject's
ground truth.

How sure a pooled figure is comes from the subjects, the unit a LOSO sweep samples: `bootstrap_interval` resamples
subjects (with replacement, each bringing all of its clips) and recomputes the pooled UF1/UAR; `paired_test`
compares two sweeps on the same clips by swapping, subject by subject, which sweep's predictions count as which
(a paired permutation test; exact over every swap for up to `EXACT_SUBJECTS` subjects), and gives a paired
bootstrap interval of the difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

Labels = Sequence[int] | np.ndarray  # class indices, as a list or an integer array
EXACT_SUBJECTS = 16  # up to 2**16 swaps are enumerated; beyond, they are drawn at random


def confusion(y_true: Labels, y_pred: Labels, num_classes: int) -> np.ndarray:
    """`C[i, j]` counts clips of true class i predicted as j."""
    true, pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if true.shape != pred.shape:
        raise ValueError(f"{len(true)} labels but {len(pred)} predictions")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true, pred), 1)
    return matrix


def per_class_f1(matrix: np.ndarray) -> np.ndarray:
    """F1 of each class; `matrix` may carry leading batch axes (`(..., k, k)` -> `(..., k)`)."""
    tp = np.diagonal(matrix, axis1=-2, axis2=-1).astype(float)
    denominator = 2 * tp + (matrix.sum(axis=-2) - tp) + (matrix.sum(axis=-1) - tp)
    f1: np.ndarray = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return f1


def per_class_recall(matrix: np.ndarray) -> np.ndarray:
    """Recall of each class; `matrix` may carry leading batch axes (`(..., k, k)` -> `(..., k)`)."""
    tp = np.diagonal(matrix, axis1=-2, axis2=-1).astype(float)
    support = matrix.sum(axis=-1).astype(float)
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
    return {
        "uf1": uf1(matrix, labels),
        "uar": uar(matrix, labels),
        "accuracy": accuracy(matrix),
        "average_accuracy": average_accuracy(matrix, labels),
        "overall_accuracy": accuracy(matrix),
        "n": int(matrix.sum()),
    }


# --- how sure: subject-level bootstrap and the paired test -----------------------------------------------------------


def subject_confusions(
    y_true: Labels, y_pred: Labels, subjects: Sequence[str] | np.ndarray, num_classes: int
) -> np.ndarray:
    """`(S, k, k)`: one confusion matrix per subject, subjects in sorted order."""
    names = np.asarray(subjects)
    true, pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    return np.stack([confusion(true[names == s], pred[names == s], num_classes) for s in np.unique(names)])


def _pooled(weights: np.ndarray, confusions: np.ndarray) -> np.ndarray:
    """`(B, k, k)`: the confusion matrix pooled over subjects by each row of `weights` (`(B, S)`: how many times
    each subject counts), from per-subject `confusions` (`(S, k, k)`)."""
    pooled: np.ndarray = np.einsum("bs,sij->bij", weights, confusions)
    return pooled


def _figures(pooled: np.ndarray) -> dict[str, np.ndarray]:
    """UF1 and UAR over every class of each pooled matrix."""
    return {"uf1": per_class_f1(pooled).mean(-1), "uar": per_class_recall(pooled).mean(-1)}


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _draws(subjects: int, resamples: int, seed: int) -> np.ndarray:
    """`(resamples, S)` subject counts of bootstrap samples: S subjects drawn with replacement, each time."""
    return np.random.default_rng(seed).multinomial(subjects, np.full(subjects, 1 / subjects), size=resamples)


def bootstrap_interval(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    subjects: Sequence[str],
    num_classes: int,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of the pooled UF1 and UAR when the subjects are drawn again with replacement (each drawn
    subject brings all of its clips): `{"uf1": (low, high), "uar": (low, high)}`."""
    confusions = subject_confusions(y_true, y_pred, subjects, num_classes)
    values = _figures(_pooled(_draws(len(confusions), resamples, seed), confusions))
    return {name: _percentiles(values[name], level) for name in ("uf1", "uar")}


@dataclass(frozen=True)
class PairedTest:
    """Sweep A against sweep B on the same clips. `difference` is A - B of the pooled figure; `interval` its paired
    bootstrap percentile interval; `p_value` the two-sided paired permutation p-value (`exact`: every one of the
    2**subjects swaps enumerated; else `permutations` random swaps, the observed one counted)."""

    metric: str
    a: float
    b: float
    difference: float
    interval: tuple[float, float]
    p_value: float
    subjects: int
    exact: bool
    permutations: int


def paired_test(
    y_true: Sequence[int],
    pred_a: Sequence[int],
    pred_b: Sequence[int],
    subjects: Sequence[str],
    num_classes: int,
    resamples: int = 2000,
    permutations: int = 10000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, PairedTest]:
    """Whether two sweeps' pooled UF1 and UAR differ, on the same clips (`pred_a`, `pred_b` aligned on `y_true`).

    Under the null hypothesis that both sweeps are alike, which of a subject's two sets of predictions is called A
    is arbitrary: the p-value is the share of subject-wise swaps whose |A - B| is at least the observed one."""
    conf_a = subject_confusions(y_true, pred_a, subjects, num_classes)
    conf_b = subject_confusions(y_true, pred_b, subjects, num_classes)
    count = len(conf_a)
    whole = np.ones((1, count))
    observed_a, observed_b = _figures(_pooled(whole, conf_a)), _figures(_pooled(whole, conf_b))
    draws = _draws(count, resamples, seed)
    boot_a, boot_b = _figures(_pooled(draws, conf_a)), _figures(_pooled(draws, conf_b))
    exact = count <= EXACT_SUBJECTS
    if exact:
        swaps = np.array(list(product((0, 1), repeat=count)), dtype=float)
    else:
        swaps = np.random.default_rng(seed + 1).integers(0, 2, size=(permutations, count)).astype(float)
    # A swapped subject lends its B predictions to "A" and its A predictions to "B".
    swapped_a = _figures(_pooled(1 - swaps, conf_a) + _pooled(swaps, conf_b))
    swapped_b = _figures(_pooled(swaps, conf_a) + _pooled(1 - swaps, conf_b))
    tests = {}
    for name in ("uf1", "uar"):
        observed = float(observed_a[name][0] - observed_b[name][0])
        at_least = np.abs(swapped_a[name] - swapped_b[name]) >= abs(observed) - 1e-12
        # Random swaps: the observed arrangement counts as one of them, so p is never 0 (Phipson & Smyth 2010).
        p_value = float(at_least.mean()) if exact else float((at_least.sum() + 1) / (len(swaps) + 1))
        tests[name] = PairedTest(
            name,
            float(observed_a[name][0]),
            float(observed_b[name][0]),
            observed,
            _percentiles(boot_a[name] - boot_b[name], level),
            p_value,
            count,
            exact,
            len(swaps),
        )
    return tests
