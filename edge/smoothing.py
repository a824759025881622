"""Temporal smoothing of class probabilities: EMA plus label hysteresis (pure functions)."""

from __future__ import annotations

import numpy as np


def ema(previous: np.ndarray | None, new: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average; alpha=1 means no smoothing."""
    if previous is None:
        return new.astype(np.float32, copy=True)
    return (alpha * new + (1.0 - alpha) * previous).astype(np.float32)


def hysteresis_label(current: str | None, probs: np.ndarray, labels: tuple[str, ...], margin: float) -> str:
    """Keep `current` unless another label's probability exceeds it by more than `margin`."""
    top = labels[int(np.argmax(probs))]
    if current is None or current not in labels or top == current:
        return top
    if probs[labels.index(top)] - probs[labels.index(current)] > margin:
        return top
    return current
