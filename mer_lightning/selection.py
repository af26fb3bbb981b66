"""Choosing one setting of trained models on validation clips: a fusion weight, a routing threshold, ...

Methods that combine trained models through a free setting (Meta-MMFNet's alpha in d_micro + alpha * d_macro, an
expression-size threshold that routes clips between two models) must choose it without looking at the test subject.
`select` takes the validation predictions each candidate value gives and keeps the one that scores best; the scores
come from `metrics.py`, over the classes present in the validation ground truth (as a subject's figures are).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mer_lightning import metrics

CRITERIA = ("uf1", "uar", "accuracy", "average_accuracy", "overall_accuracy")


@dataclass(frozen=True)
class Selection:
    """The chosen `value` of a setting, and every candidate's validation scores (`table`, in candidate order)."""

    value: float
    criterion: str
    table: list[dict[str, float]]


def check_criterion(criterion: str) -> None:
    if criterion not in CRITERIA:
        raise ValueError(f"selection criterion {criterion!r} is not a figure of metrics.scores; choose from {CRITERIA}")


def select(
    predictions: Mapping[float, Sequence[int]], labels: Sequence[int], num_classes: int, criterion: str = "uf1"
) -> Selection:
    """The candidate (a key of `predictions`, which gives its predicted class for each validation item, in the order of
    `labels`) that scores best on `criterion`; ties go to the candidate listed first, so list them in order of
    preference."""
    check_criterion(criterion)
    if not predictions:
        raise ValueError("selection: no candidate values to choose from")
    if len(labels) == 0:
        raise ValueError("selection: no validation items to choose on")
    table = []
    for value, predicted in predictions.items():
        if len(predicted) != len(labels):
            raise ValueError(f"selection: candidate {value} predicts {len(predicted)} items, not {len(labels)}")
        scores = metrics.scores(np.asarray(labels), np.asarray(predicted), num_classes, present_only=True)
        table.append({"value": float(value), **{name: float(scores[name]) for name in CRITERIA}})
    best = max(range(len(table)), key=lambda i: (table[i][criterion], -i))
    return Selection(table[best]["value"], criterion, table)
