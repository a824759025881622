"""The report plot's time axis: its tick labels tell the ticks apart at any span, from the few seconds of a demo run
to weeks. Before, every tick read `%m-%d %H:%M`, so a one-minute range showed `06-01 10:00` six times."""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import datetime, timezone

import pytest

from edge.report import Bucket, Mark, by_interval
from edge.report_chart import plot_timeline

T0 = datetime(2025, 6, 1, 10, 0, tzinfo=timezone.utc).timestamp()
LABELS = ["happy", "sad", "neutral"]
MINUTE, HOUR, DAY = 60, 3600, 86400
EVENTS_PER_RANGE = 200


def marks(span_s: float, count: int = EVENTS_PER_RANGE) -> list[Mark]:
    """Events spread evenly over span_s seconds from T0, the labels taking turns."""
    return [Mark(T0 + span_s * i / count, 1, 1, LABELS[i % len(LABELS)]) for i in range(count + 1)]


@pytest.fixture
def utc():
    """The process's local time is UTC for the test (the plot labels local time)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def drawn_axis(monkeypatch, tmp_path, buckets: list[Bucket], interval: str) -> tuple[list[str], str]:
    """The x tick labels and the offset text beside the axis, as plot_timeline draws them into its PNG."""
    from matplotlib.figure import Figure

    seen: dict[str, object] = {}
    savefig = Figure.savefig

    def recording_savefig(fig, *args, **kwargs):
        savefig(fig, *args, **kwargs)  # draws the figure: the labels are final
        axis = fig.axes[0].xaxis
        seen["ticks"] = [label.get_text() for label in axis.get_ticklabels()]
        seen["offset"] = axis.get_offset_text().get_text()

    monkeypatch.setattr(Figure, "savefig", recording_savefig)
    plot_timeline(buckets, LABELS, interval, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0
    return seen["ticks"], seen["offset"]


RANGES = {
    "10 s": ([Bucket("10:00", T0 + 3, T0 + 13, Counter(happy=8, sad=2))], "minute"),
    "a demo run (10 s in one minute)": (by_interval(marks(10), "minute"), "minute"),
    "10 min": (by_interval(marks(10 * MINUTE), "minute"), "minute"),
    "1 day": (by_interval(marks(DAY), "hour"), "hour"),
    "4 days": (by_interval(marks(4 * DAY), "hour"), "hour"),
    "2 weeks": (by_interval(marks(14 * DAY), "day"), "day"),
    "2 months": (by_interval(marks(61 * DAY), "day"), "day"),
}


@pytest.mark.parametrize("name", RANGES)
def test_tick_labels_are_distinct_at_any_span(monkeypatch, tmp_path, name):
    buckets, interval = RANGES[name]
    ticks, _ = drawn_axis(monkeypatch, tmp_path, buckets, interval)
    assert len(ticks) >= 3, ticks
    assert all(label.strip() for label in ticks), ticks
    assert len(set(ticks)) == len(ticks), f"{name}: repeated tick labels {ticks}"


def test_tick_labels_read_local_clock_times(monkeypatch, tmp_path, utc):
    ticks, offset = drawn_axis(monkeypatch, tmp_path, by_interval(marks(10), "minute"), "minute")
    assert ticks[0] == "10:00" and "10:00:20" in ticks and offset == "2025-Jun-01"
    ticks, offset = drawn_axis(monkeypatch, tmp_path, by_interval(marks(DAY), "hour"), "hour")
    assert "Jun-01 12:00" in ticks and "Jun-02 00:00" in ticks  # a 24 h range names each tick's day


def test_an_empty_range_still_has_no_time_ticks(monkeypatch, tmp_path):
    ticks, offset = drawn_axis(monkeypatch, tmp_path, [], "hour")
    assert ticks == [] and offset == ""


@pytest.mark.parametrize("interval", ["hour", "day"])
def test_every_span_of_days_gets_ticks_without_a_warning(monkeypatch, tmp_path, utc, interval):
    """From 3 to 5 days, every 3 hours: matplotlib found no tick step for 78-109 h and warned on each report (a
    nightly cron job mailed it), whatever --by was."""
    import warnings

    for hours in range(72, 5 * 24 + 1, 3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ticks, _ = drawn_axis(monkeypatch, tmp_path, by_interval(marks(hours * HOUR), interval), interval)
        assert [str(w.message) for w in caught] == [], f"{hours} h"
        assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), (hours, ticks)
