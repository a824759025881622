"""The report's PNG timeline (`python -m edge report --png P`): each label's share of the events per interval as a
stacked area over local time, in the overlay's colours, with tick labels that tell the ticks apart at any span.

Kept apart from edge/report.py (the events, ranges and tables) because it is the one part that needs matplotlib:
matplotlib is imported inside the functions, only when a plot is drawn, so a report without --png never loads it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from edge.errors import EdgeError
from edge.staged import is_stdout, staged

if TYPE_CHECKING:  # matplotlib is imported for --png only
    from matplotlib.axis import Axis
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    from edge.report import Bucket

PLOT_SIZE_IN = (11, 4.5)
# x ticks: matplotlib's AutoDateLocator spaces them to the span (seconds to months) and ConciseDateFormatter labels
# each at that level (years, months, days, hours, minutes, seconds), the rest beside the axis: matplotlib's formats,
# except that seconds read as a clock time (14:39:10, not 10; the formatter drops a .000000)
PLOT_TICK_FORMATS = ("%Y", "%b", "%d", "%H:%M", "%H:%M", "%H:%M:%S.%f")
PLOT_ZERO_FORMATS = ("", "%Y", "%b", "%b-%d", "%H:%M", "%H:%M")  # a new year, month, day, hour, minute
# when those repeat (15:00 at both ends of a 24 h range, the 8th of two months), every tick also names its day
PLOT_FULL_TICK_FORMATS = ("%Y", "%Y-%b", "%b-%d", "%b-%d %H:%M", "%b-%d %H:%M", "%H:%M:%S.%f")
PLOT_OFFSET_FORMATS = ("", "%Y", "%Y-%b", "%Y-%b-%d", "%Y-%b-%d", "%Y-%b-%d")
PLOT_SUBMINUTE_STEPS = [1, 2, 5, 10, 15, 30]  # tick steps in seconds or minutes: 2 added (a 10 min range: 6 ticks)
PLOT_MAX_HOURLY_TICKS = 8  # matplotlib's 11 crowd labels that name their day (24 h: 4-hourly "Dec-06 16:00")
# matplotlib's hourly steps end at 12 h, which fits at most 84 h in 8 ticks, and days need 5 ticks at least: a
# span of 3.5-4.5 days had no step at all (a UserWarning on every report of it). A 24 h step closes the gap.
PLOT_HOURLY_STEPS = [1, 2, 3, 4, 6, 12, 24]
PLOT_DPI = 110
PLOT_SUFFIX = ".png"


def check_png_path(path: Path) -> None:
    """The plot is always a PNG: refuse another suffix before any work (matplotlib would raise on it)."""
    if is_stdout(path):
        raise EdgeError("--png -", "the plot cannot go to stdout; give a file name ending in .png")
    if path.suffix.lower() != PLOT_SUFFIX:
        raise EdgeError(f"--png {path}", f"the file name must end in {PLOT_SUFFIX}")


def step_points(buckets: Sequence[Bucket], labels: Sequence[str]) -> tuple[list[float], list[list[float]]]:
    """Times and per-label shares (%) for a post-step plot: each bucket holds from its start to its end, and an
    interval without events drops to zero (a step would otherwise carry the last shares across the gap)."""
    times: list[float] = []
    shares: list[list[float]] = [[] for _ in labels]
    for bucket, following in zip(buckets, [*buckets[1:], None]):
        times.append(bucket.start)
        for row, label in zip(shares, labels):
            row.append(100 * bucket.share(label))
        if following is None or following.start > bucket.end:
            times.append(bucket.end)
            for row in shares:
                row.append(0.0)
    return times, shares


def distinct_date_formatter(locator: AutoDateLocator, tz: tzinfo) -> ConciseDateFormatter:
    """A matplotlib ConciseDateFormatter whose tick labels never repeat: where the concise ones would, the fuller
    PLOT_FULL_TICK_FORMATS are used for that axis."""
    import matplotlib.dates as mdates

    class DistinctDateFormatter(mdates.ConciseDateFormatter):
        def __init__(self) -> None:
            super().__init__(locator, tz=tz, formats=list(PLOT_TICK_FORMATS), zero_formats=list(PLOT_ZERO_FORMATS),
                             offset_formats=list(PLOT_OFFSET_FORMATS))
            self.fuller = mdates.ConciseDateFormatter(locator, tz=tz, formats=list(PLOT_FULL_TICK_FORMATS),
                                                      zero_formats=list(PLOT_FULL_TICK_FORMATS),
                                                      offset_formats=list(PLOT_OFFSET_FORMATS))

        def format_ticks(self, values: Sequence[float]) -> list[str]:
            labels = super().format_ticks(values)
            if len(set(labels)) == len(labels):
                return labels
            labels = self.fuller.format_ticks(values)
            self._offset_string = self.fuller.get_offset()
            return labels

    return DistinctDateFormatter()


def time_axis(axis: Axis) -> None:
    """Local-time ticks on a date axis (an x axis) whose labels differ at any span from seconds to
    months: the locator picks the spacing (5 s ... 1 month), the formatter shows what changes between ticks."""
    import matplotlib.dates as mdates
    from dateutil.tz import tzlocal

    local = tzlocal()  # the machine's zone with its daylight-saving rules, as datetime.fromtimestamp uses
    locator = mdates.AutoDateLocator(tz=local, maxticks={mdates.HOURLY: PLOT_MAX_HOURLY_TICKS})
    for frequency in (mdates.SECONDLY, mdates.MINUTELY):
        locator.intervald[frequency] = PLOT_SUBMINUTE_STEPS
    locator.intervald[mdates.HOURLY] = PLOT_HOURLY_STEPS
    axis.set_major_locator(locator)
    axis.set_major_formatter(distinct_date_formatter(locator, local))


def timeline_figure(buckets: Sequence[Bucket], labels: Sequence[str], interval: str,
                    title: str = "Emotion shares over time") -> Figure:
    """The plot_timeline figure (Agg backend: no display needed); close it with matplotlib.pyplot.close."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edge.sinks.overlay import hex_colour, label_colour

    fig, ax = plt.subplots(figsize=PLOT_SIZE_IN)
    if buckets:
        times, shares = step_points(buckets, labels)
        colours = [hex_colour(label_colour(label)) for label in labels]  # the overlay's, as the web view's
        # true (UTC) times on the axis, labelled in local time: a repeated local hour keeps its width
        ax.stackplot([datetime.fromtimestamp(t, timezone.utc) for t in times], shares, labels=labels,
                     colors=colours, step="post")
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
        time_axis(ax.xaxis)
    else:  # a quiet day still gets its (empty) plot: a nightly job should not fail on it
        ax.text(0.5, 0.5, "no events in this range", transform=ax.transAxes, ha="center", va="center")
        ax.set_xticks([])  # no times to show (matplotlib's default axis would read 1970)
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"share of events per {interval} (%)")
    ax.set_title(f"{title} ({sum(b.total for b in buckets)} events)")
    fig.tight_layout()
    return fig


def plot_timeline(buckets: Sequence[Bucket], labels: Sequence[str], interval: str, path: Path,
                  title: str = "Emotion shares over time") -> Path:
    """Stacked area of each label's share per interval, as a PNG; `buckets` come from by_interval."""
    check_png_path(path)
    fig = timeline_figure(buckets, labels, interval, title)
    import matplotlib.pyplot as plt

    try:
        with staged(path, "--png", "wb") as handle:
            fig.savefig(handle, dpi=PLOT_DPI, format=PLOT_SUFFIX[1:])
    finally:
        plt.close(fig)
    return path
