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


# A toy of three subjects, one clip of each of two classes each; what each sweep gets right:
#   subject  A: class 0, class 1   B: class 0, class 1
#   s1          yes      yes          no       no
#   s2          yes      yes          yes      no
#   s3          no       yes          yes      yes
# With one clip per class per subject, pooled UAR = clips right / 6, so A - B = (d1 + d2 + d3) / 6 with the
# per-subject differences d = (2, 1, -1): observed 2/6. Swapping subjects flips signs: |+-2 +-1 -+1| is 2, 4, 0 or 2,
# each for two of the eight swaps, so 6 of 8 swaps reach the observed |2|: p = 0.75.
TOY_TRUE = [0, 1, 0, 1, 0, 1]
TOY_A = [0, 1, 0, 1, 1, 1]
TOY_B = [1, 0, 0, 0, 0, 1]
TOY_SUBJECTS = ["s1", "s1", "s2", "s2", "s3", "s3"]


def test_the_subject_bootstrap_interval_matches_a_hand_computation():
    # Sweep A on a draw of n1, n2, n3 copies of s1, s2, s3: UAR = (2 n1 + 2 n2 + n3) / 6. Its lowest value, 3/6 (s3
    # three times), has probability 1/27 > 2.5%, and its highest, 1 (no s3), 8/27: the 95% interval is [0.5, 1].
    # UF1 at its lowest (s3 three times: confusion [[0, 3], [0, 3]]) is (0 + 2/3) / 2 = 1/3, at its highest 1.
    interval = metrics.bootstrap_interval(TOY_TRUE, TOY_A, TOY_SUBJECTS, num_classes=2, resamples=20000)
    assert interval["uar"] == pytest.approx((0.5, 1.0))
    assert interval["uf1"] == pytest.approx((1 / 3, 1.0))


def test_the_paired_test_matches_a_hand_computation():
    tests = metrics.paired_test(TOY_TRUE, TOY_A, TOY_B, TOY_SUBJECTS, num_classes=2, resamples=20000)
    uar, uf1 = tests["uar"], tests["uf1"]
    assert (uar.a, uar.b, uar.difference) == pytest.approx((5 / 6, 1 / 2, 1 / 3))
    assert uar.p_value == pytest.approx(0.75) and uar.exact and uar.permutations == 8 and uar.subjects == 3
    # The paired bootstrap of A - B = (2 n1 + n2 - n3) / 6: lowest -1/2 (s3 thrice), highest 1 (s1 thrice), each 1/27.
    assert uar.interval == pytest.approx((-0.5, 1.0))
    # A's confusion [[2, 1], [0, 3]]: F1 4/5 and 6/7; B's [[2, 1], [2, 1]]: F1 4/7 and 2/5.
    assert uf1.a == pytest.approx((4 / 5 + 6 / 7) / 2) and uf1.b == pytest.approx((4 / 7 + 2 / 5) / 2)
    assert uf1.difference == pytest.approx(uf1.a - uf1.b)


def test_identical_sweeps_do_not_differ():
    tests = metrics.paired_test(TOY_TRUE, TOY_A, TOY_A, TOY_SUBJECTS, num_classes=2)
    assert tests["uf1"].difference == 0 and tests["uf1"].p_value == 1.0 and tests["uf1"].interval == (0.0, 0.0)


def test_many_subjects_draw_random_swaps_and_never_give_p_zero():
    rng = np.random.default_rng(1)
    subjects = np.repeat([f"s{i:02d}" for i in range(20)], 6)
    y_true = np.tile([0, 1, 2], 40)
    better, worse = y_true.copy(), rng.integers(0, 3, len(y_true))
    test = metrics.paired_test(y_true, better, worse, subjects, num_classes=3, permutations=999)["uf1"]
    assert not test.exact and test.permutations == 999
    assert 0 < test.p_value <= 2 / 1000  # at most the observed arrangement and its mirror reach it
    assert test.interval[0] > 0
