"""Classification metrics: the per-class report; class-offset tuning rescues an under-predicted class, and never
trades a small class away."""

import numpy as np
import pytest

from train.metrics import per_class_recall, tune_class_bias
from train.reports import BIAS_STEPS


def faces(*groups):
    """(count, true class, probabilities) groups -> probs, labels."""
    probs = np.concatenate([np.tile(p, (n, 1)) for n, _, p in groups])
    labels = np.concatenate([np.full(n, c) for n, c, _ in groups])
    return probs, labels


def test_offsets_rescue_a_class_the_network_under_predicts():
    probs, labels = faces((100, 0, [0.6, 0.3, 0.1]), (10, 1, [0.5, 0.4, 0.1]), (10, 2, [0.1, 0.1, 0.8]))
    assert per_class_recall(labels, probs.argmax(1), 3)[1] == 0.0
    bias = tune_class_bias(probs, labels, BIAS_STEPS)
    recall = per_class_recall(labels, (np.log(probs) + bias).argmax(1), 3)
    assert recall.tolist() == [1.0, 1.0, 1.0]


def test_recall_floor_keeps_a_small_class_that_plain_tuning_gives_up():
    ambiguous = [0.4, 0.1, 0.5]
    probs, labels = faces((60, 0, [0.8, 0.1, 0.1]), (40, 0, ambiguous), (10, 1, [0.1, 0.8, 0.1]), (10, 2, ambiguous))
    free = tune_class_bias(probs, labels, BIAS_STEPS)
    assert per_class_recall(labels, (np.log(probs) + free).argmax(1), 3)[2] == 0.0  # accuracy bought with class 2
    floored = tune_class_bias(probs, labels, BIAS_STEPS, min_recall=0.5)
    assert per_class_recall(labels, (np.log(probs) + floored).argmax(1), 3)[2] >= 0.5


def test_the_report_counts_rows_as_truth_and_columns_as_predictions():
    """3 faces of class 0 (2 found), 1 of class 1, and a class-1 guess for a class-0 face: class 1 has recall 1
    and precision 1/2, class 0 recall 2/3 and precision 1."""
    from train.metrics import classification_report

    report = classification_report(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1]), ["a", "b"])
    assert report["confusion"] == [[2, 1], [0, 1]]
    assert report["per_class"]["a"] == {"precision": 1.0, "recall": 0.6667, "f1": 0.8, "support": 3}
    assert report["per_class"]["b"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert report["accuracy"] == 0.75 and report["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
