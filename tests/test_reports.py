"""What summary runs carry: the confusion figure (counts and row rates in every cell, as papers draw it) and the
per-dataset table."""

import numpy as np
import pandas as pd
import pytest

from mer_lightning.reports import POOLED, comparison_table, confusion_figure, summarize_predictions


def test_every_cell_shows_its_count_and_the_share_of_its_true_class():
    matrix = np.array([[8, 2, 0], [1, 3, 0], [0, 0, 0]])
    figure = confusion_figure(matrix, ["negative", "positive", "surprise"], "pooled confusion")
    axes = figure.axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in axes.texts}
    assert cells[(0, 0)] == "8\n80.0%" and cells[(0, 1)] == "2\n20.0%"
    assert cells[(1, 0)] == "1\n25.0%" and cells[(1, 1)] == "3\n75.0%"
    assert cells[(2, 2)] == "0\n0.0%"  # a class with no clip: no rate to divide by, shown as nothing predicted
    assert len(cells) == 9 and axes.get_title() == "pooled confusion"
    assert [t.get_text() for t in axes.get_yticklabels()] == ["negative", "positive", "surprise"]


def test_a_comparison_labels_each_sweep_by_what_sets_it_apart():
    figures = {
        "m-0": {"uf1": 0.5, "uar": 0.6, "accuracy": 0.7, "n_clips": 100, "n_folds_missing_or_failed": 0},
        "m-1": {
            "uf1": 0.9,
            "uar": 0.8,
            "accuracy": 0.85,
            "n_clips": 100,
            "n_folds_missing_or_failed": 1,
            "casme2/uf1": 0.95,
            "casme2/uar": 0.94,
            "casme2/accuracy": 0.96,
        },
    }
    overrides = {
        "m-0": "experiment=aouayeb preprocessing.steps.regions.names=[mouth] threads=1",
        "m-1": "experiment=aouayeb preprocessing.steps.regions.names=[nose,mouth] threads=1",
    }
    table = comparison_table(figures, overrides)
    assert list(table.index) == ["m-0", "m-1"]
    assert list(table["setting"]) == [
        "preprocessing.steps.regions.names=[mouth]",
        "preprocessing.steps.regions.names=[nose,mouth]",
    ]
    assert table.loc["m-1", ["uf1", "uar", "accuracy", "clips", "folds missing or failed"]].tolist() == [
        0.9,
        0.8,
        0.85,
        100,
        1,
    ]
    assert table.loc["m-1", "casme2/uf1"] == 0.95 and np.isnan(table.loc["m-0", "casme2/uar"])
    assert table.loc["m-1", "casme2/accuracy"] == 0.96
    assert comparison_table({"s": figures["m-0"]}, {"s": ""}).loc["s", "setting"] == "(as configured)"


def test_several_datasets_are_scored_side_by_side_then_together():
    table = pd.DataFrame(
        {
            "dataset": ["ckplus"] * 4 + ["ckplus_micro"] * 4,
            "subject": ["S001"] * 8,
            "label": [0, 1, 0, 1] * 2,
            "prediction": [0, 1, 0, 1, 0, 0, 0, 1],
        }
    )
    per_dataset = summarize_predictions(table, ["negative", "positive"]).per_dataset
    assert per_dataset.index.tolist() == ["ckplus", "ckplus_micro", POOLED]
    assert per_dataset["accuracy"].tolist() == [1.0, 0.75, 0.875] and per_dataset["n"].tolist() == [4, 4, 8]
    assert per_dataset.loc["ckplus_micro", "uf1"] == pytest.approx((2 / 3 + 0.8) / 2)
    one = summarize_predictions(table[table["dataset"] == "ckplus"], ["negative", "positive"]).per_dataset
    assert one.index.tolist() == ["ckplus"]  # one dataset: nothing to pool
