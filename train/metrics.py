"""Classification metrics with NumPy only, shared by training and by the edge-side evaluator."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PROBABILITY_FLOOR = 1e-7  # probabilities are clipped here before the log, so a 0 gives a finite log-probability
SCORE_TOLERANCE = 1e-9  # recall floors and score gains within this are rounding, not a change


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support, as plain JSON-ready values."""
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    true_pos = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    support = matrix.sum(axis=1).astype(float)
    precision = np.divide(true_pos, predicted, out=np.zeros_like(true_pos), where=predicted > 0)
    recall = np.divide(true_pos, support, out=np.zeros_like(true_pos), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(true_pos), where=denom > 0)
    return {
        "n": int(matrix.sum()),
        "accuracy": float(true_pos.sum() / max(1, matrix.sum())),
        # over the classes that occur (in the truth or the predictions), as sklearn does: a class the split
        # does not hold is not a class the model got wrong
        "macro_f1": float(f1[(support > 0) | (predicted > 0)].mean()) if matrix.sum() else 0.0,
        "per_class": {
            label: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": matrix.tolist(),
    }


def format_table(report: dict) -> str:
    """A fixed-width per-class table with accuracy and macro-F1 underneath."""
    lines = [f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, row in report["per_class"].items():
        lines.append(f"{label:<10}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>10d}")
    lines.append(f"{'accuracy':<10}{report['accuracy']:>40.4f}")
    lines.append(f"{'macro-F1':<10}{report['macro_f1']:>40.4f}")
    return "\n".join(lines)


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    return np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)


def tune_class_bias(
    probs: np.ndarray, y_true: np.ndarray, steps: Sequence[float], passes: int = 2, min_recall: float = 0.0
) -> np.ndarray:
    """Per-class log-probability offsets that raise the mean of accuracy and macro-F1 on a held-out slice.

    Coordinate ascent over a small grid; the offsets are later added to the logits layer's bias, so the
    deployed model needs no post-processing. This mainly rescues rare classes (disgust) that a
    network trained on imbalanced data under-predicts. No offset may push a class's recall below
    `min_recall` (or below its untuned recall, if that is lower already): a few more correct faces of a
    large class must not be bought by no longer recognising a small one.
    """
    log_probs = np.log(np.clip(probs, PROBABILITY_FLOOR, 1.0))
    num_classes = probs.shape[1]
    bias = np.zeros(num_classes)
    floor = np.minimum(min_recall, per_class_recall(y_true, np.argmax(log_probs, axis=1), num_classes))

    def score(candidate: np.ndarray) -> float:
        predicted = np.argmax(log_probs + candidate, axis=1)
        if np.any(per_class_recall(y_true, predicted, num_classes) < floor - SCORE_TOLERANCE):
            return -np.inf
        report = classification_report(y_true, predicted, [str(i) for i in range(num_classes)])
        return (report["accuracy"] + report["macro_f1"]) / 2

    best = score(bias)
    for _ in range(passes):
        for cls in range(num_classes):
            for step in steps:
                candidate = bias.copy()
                candidate[cls] = step
                value = score(candidate)
                if value > best + SCORE_TOLERANCE:
                    best, bias = value, candidate
    return bias
