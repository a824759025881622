"""Order statistics without numpy (the driver process stays light)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

P90 = 0.9


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarise(values: Sequence[float], digits: int = 3) -> dict[str, float]:
    """{"median", "p90", "mean", "min", "max"} of a series of milliseconds."""
    if not values:
        return dict.fromkeys(("median", "p90", "mean", "min", "max"), 0.0)
    return {
        "median": round(statistics.median(values), digits),
        "p90": round(percentile(values, P90), digits),
        "mean": round(statistics.fmean(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }
