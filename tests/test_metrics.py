"""UF1/UAR against examples worked by hand (MEGC 2019 definitions), and against scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from mer_lightning import metrics


def test_pooled_scores_match_a_hand_worked_example():
    # class 0: TP 2, FN 1, FP 0 -> F1 4/5, recall 2/3
    # class 1: TP 1, FN 1, FP 1 -> F1 2/4, recall 1/2
    # class 2: TP 1, FN 0, FP 1 -> F1 2/3, recall 1
    y_true, y_pred = [0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2]
    scores = metrics.scores(y_true, y_pred, num_classes=3)
    assert scores["uf1"] == pytest.approx((4 / 5 + 2 / 4 + 2 / 3) / 3)
    assert scores["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert scores["accuracy"] == pytest.approx(4 / 6)


def test_a_fold_missing_a_class_averages_over_the_classes_in_its_ground_truth():
    # class 2 is absent from the ground truth but predicted once (a false positive).
    # class 0: TP 1, FN 1 -> F1 2/3, recall 1/2;  class 1: TP 1 -> F1 1, recall 1;  class 2: F1 0, recall undefined
    y_true, y_pred = [0, 0, 1], [0, 2, 1]
    present = metrics.scores(y_true, y_pred, num_classes=3, present_only=True)
    assert present["uf1"] == pytest.approx((2 / 3 + 1) / 2)
    assert present["uar"] == pytest.approx((1 / 2 + 1) / 2)
    pooled_style = metrics.scores(y_true, y_pred, num_classes=3)
    assert pooled_style["uf1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert pooled_style["uar"] == pytest.approx((1 / 2 + 1 + 0) / 3)


def test_confusion_counts_true_rows_and_predicted_columns():
    matrix = metrics.confusion([0, 1, 1, 2], [1, 1, 1, 0], num_classes=3)
    assert matrix.tolist() == [[0, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_row_rates_share_each_true_class_among_its_predictions():
    matrix = np.array([[3, 1, 0], [0, 0, 0], [1, 1, 2]])
    rates = metrics.row_rates(matrix)
    assert rates.tolist() == [[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [0.25, 0.25, 0.5]]
    assert np.diag(rates).tolist() == metrics.per_class_recall(matrix).tolist()


def test_agrees_with_scikit_learn_on_random_labels():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    scores = metrics.scores(y_true, y_pred, num_classes=4)
    assert scores["uf1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert scores["uar"] == pytest.approx(recall_score(y_true, y_pred, average="macro"))


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="3 labels but 2 predictions"):
        metrics.confusion([0, 1, 2], [0, 1], num_classes=3)


def test_average_and_overall_accuracy_on_an_unbalanced_toy():
    # class 0: 8 clips, 7 right (accuracy 7/8); class 1: 2 clips, none right (0); class 2: 1 clip, right (1).
    y_true = [0] * 8 + [1] * 2 + [2]
    y_pred = [0] * 7 + [1] + [0, 0] + [2]
    scores = metrics.scores(y_true, y_pred, num_classes=3)
    assert scores["overall_accuracy"] == pytest.approx(8 / 11)  # fraction of clips right: the majority class weighs
    assert scores["average_accuracy"] == pytest.approx((7 / 8 + 0 + 1) / 3)  # each class weighs the same
    # a subject lacking class 2: the mean runs over the classes in its ground truth, as UAR's does
    subject = metrics.scores(y_true[:10], y_pred[:10], num_classes=3, present_only=True)
    assert subject["average_accuracy"] == pytest.approx((7 / 8 + 0) / 2) and subject["overall_accuracy"] == 0.7
