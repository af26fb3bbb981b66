"""The summary's pure parts: intervals on the summary, the cross-dataset matrix, the comparison of two sweeps, and
the figures a summary run shows."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mer_lightning import metrics, reports
from mer_lightning.tracking import comparison_title

CLASSES = ["negative", "positive"]


def table(labels, predictions, subjects, datasets=None, trained_on=None, clips=None) -> pd.DataFrame:
    n = len(labels)
    frame = pd.DataFrame(
        {
            "clip": clips or [f"{s}/c{i}" for i, s in enumerate(subjects)],
            "subject": subjects,
            "dataset": datasets or ["synthetic"] * n,
            "label": labels,
            "prediction": predictions,
            "p_negative": [1.0 - p for p in predictions],
            "p_positive": [float(p) for p in predictions],
        }
    )
    if trained_on is not None:
        frame["trained_on"] = trained_on
    return frame


def test_the_summary_carries_the_subject_bootstrap_interval():
    toy = table([0, 1, 0, 1, 0, 1], [0, 1, 0, 1, 1, 1], ["s1", "s1", "s2", "s2", "s3", "s3"])
    summary = reports.summarize_predictions(toy, CLASSES)
    assert summary.intervals == metrics.bootstrap_interval(toy["label"], toy["prediction"], toy["subject"], 2)
    assert summary.intervals["uf1"][0] <= summary.pooled["uf1"] <= summary.intervals["uf1"][1]
    assert "UF1 0.8286 [" in summary.report()  # (4/5 + 6/7) / 2


def test_the_cross_dataset_matrix_pools_each_pair_of_training_and_test_sets():
    # a -> b: 3 of 4 right; b -> a: all wrong. Each cell is the pooled UF1 of that pair's predictions.
    toy = table(
        [0, 1, 0, 1, 0, 1, 0, 1],
        [0, 1, 0, 0, 1, 0, 1, 0],
        ["b/s1"] * 4 + ["a/s1"] * 4,
        datasets=["b"] * 4 + ["a"] * 4,
        trained_on=["a"] * 4 + ["b"] * 4,
    )
    matrix = reports.summarize_predictions(toy, CLASSES).transfer
    assert list(matrix.index) == ["a", "b"] and list(matrix.columns) == ["a", "b"]
    assert matrix.loc["a", "b"] == pytest.approx((4 / 5 + 2 / 3) / 2)  # confusion [[2, 0], [1, 1]]
    assert matrix.loc["b", "a"] == 0.0
    assert np.isnan(matrix.loc["a", "a"]) and np.isnan(matrix.loc["b", "b"])
    assert isinstance(reports.transfer_figure(matrix), Figure)


def test_a_comparison_pairs_the_clips_both_sweeps_tested():
    subjects = ["s1", "s1", "s2", "s2", "s3", "s3"]
    a = table([0, 1, 0, 1, 0, 1], [0, 1, 0, 1, 1, 1], subjects)
    b = table([0, 1, 0, 1, 0, 1], [1, 0, 0, 0, 0, 1], subjects)
    extra = table([0], [0], ["s4"], clips=["s4/only-b"])
    comparison = reports.compare_predictions(a, pd.concat([b, extra], ignore_index=True), resamples=500)
    assert (comparison.clips, comparison.subjects, comparison.only_a, comparison.only_b) == (6, 3, 0, 1)
    expected = metrics.paired_test(a["label"], a["prediction"], b["prediction"], a["subject"], 2, resamples=500)
    assert comparison.tests["uar"] == expected["uar"]
    assert comparison.tests["uar"].p_value == pytest.approx(0.75)  # the hand computation of tests/test_metrics.py
    figures = comparison.figures()
    assert figures["uar_difference"] == pytest.approx(1 / 3) and figures["n_clips"] == 6
    assert "A - B  UAR +0.3333" in comparison.report("sweep a", "sweep b")


def test_a_comparison_refuses_sweeps_that_are_not_comparable():
    a = table([0, 1], [0, 1], ["s1", "s1"])
    with pytest.raises(ValueError, match="label clip s1/c0 differently"):
        reports.compare_predictions(a, table([1, 1], [0, 1], ["s1", "s1"]))
    with pytest.raises(ValueError, match="no clip in common"):
        reports.compare_predictions(a, table([0, 1], [0, 1], ["s2", "s2"]))
    with pytest.raises(ValueError, match="more than once"):
        reports.compare_predictions(pd.concat([a, a]), a)


def test_the_summary_figures_are_drawn():
    toy = table([0, 1, 0, 1], [0, 1, 1, 1], ["s1", "s1", "s2", "s2"], datasets=["x", "x", "y", "y"])
    summary = reports.summarize_predictions(toy, CLASSES)
    subject = reports.subject_figure(summary.per_subject)
    assert [t.get_text() for t in subject.axes[0].get_xticklabels()] == ["s1 (2)", "s2 (2)"]
    assert isinstance(reports.dataset_figure(summary.per_dataset), Figure)
    losses = reports.loss_figure({"s1": [1.0, 0.5], "s2": [1.2, 0.7]})
    assert len(losses.axes[0].get_lines()) == 2
    frames = {k: np.zeros((8, 8, 3), np.uint8) for k in ("onset", "apex", "offset")}
    assert isinstance(
        reports.prediction_figure(frames, np.array([0, 1.0, 0.5]), 0, 1, True, np.array([0.3, 0.7]), CLASSES, "clip"),
        Figure,
    )


def test_a_comparison_run_is_named_after_what_the_sweeps_ran():
    a, b = "ststnet on casme2, loso (26 folds) 20261129-1", "resnet18 on casme2, loso (26 folds) 20261129-2"
    assert (
        comparison_title(a, b, "20261129-1", "20261129-2")
        == "compare: ststnet on casme2, loso vs resnet18 on casme2, loso"
    )
    assert (
        comparison_title(a, a, "20261129-1", "20261129-3")
        == "compare: ststnet on casme2, loso vs ststnet on casme2, loso (20261129-1 vs 20261129-3)"
    )
