"""Reports over the event store: emotion counts and shares per time interval or per face track, a PNG
timeline of the shares (matplotlib, Agg), and CSV / JSON exports of the raw events.

Rows are streamed from SQLite, never all held at once: a month of one face at one event per second is about
2.6 M rows (the store's default 500 MB), which as Python objects would not fit in a Raspberry Pi's memory."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from edge.errors import EdgeError
from edge.store.db import COLUMNS, SECONDS_PER_DAY, SIDE_FILES, row_event

if TYPE_CHECKING:  # matplotlib is imported for --png only
    from matplotlib.axis import Axis
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

STORE_SIDE_FILES = (*SIDE_FILES, "-journal")  # a rollback journal, should the store ever leave WAL mode

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600
DAYS_PER_WEEK = 7
DURATION_UNITS = {"s": 1, "m": SECONDS_PER_MINUTE, "h": SECONDS_PER_HOUR, "d": SECONDS_PER_DAY,
                  "w": DAYS_PER_WEEK * SECONDS_PER_DAY}
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)  # 24h, 24H, 1.5 d
INTERVALS = {"minute": SECONDS_PER_MINUTE, "hour": SECONDS_PER_HOUR, "day": SECONDS_PER_DAY}
BY_CHOICES = (*INTERVALS, "track")
TIME_FORMAT = {"minute": "%Y-%m-%d %H:%M", "hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d"}
DST_SLACK_S = 2 * 3600  # more than any daylight-saving shift: day start + 24 h + this lies in the next day
PLOT_TARGET_BUCKETS = 48  # auto plot resolution: about this many points over the span
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
PLOT_DPI = 110
PLOT_SUFFIX = ".png"
PERMISSION_BITS = 0o7777
STDOUT_PATH = Path("-")  # `--csv -` / `--json -`: the export goes to stdout (and the table to stderr)
PARTIAL_SUFFIX = ".part"  # an export being written; renamed over the real name once complete


@dataclass(frozen=True)
class StoredEvent:
    ts: float
    session_id: int
    track_id: int
    label: str
    confidence: float
    box: tuple[int, int, int, int]
    probs: dict[str, float]
    source: str

    def as_contract(self) -> dict:
        """The event as in docs/CONTRACTS.md (plus the store's session id)."""
        return {"ts": self.ts, "session": self.session_id, "track_id": self.track_id, "box": list(self.box),
                "label": self.label, "confidence": self.confidence, "probs": self.probs, "source": self.source}


@dataclass
class Bucket:
    """One table row: an interval (start time) or a track, with per-label counts."""

    key: str
    start: float
    end: float
    counts: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, label: str) -> float:
        return self.counts[label] / self.total if self.total else 0.0


def parse_since(text: str, now: float | None = None, flag: str = "--since") -> float | None:
    """`24h`, `30m`, `7d`, `90s`, `2w` before now; an ISO date/time (local time); `all` = no limit.
    `flag` names the option in the error (--since or --until)."""
    now = time.time() if now is None else now
    if text.strip().lower() == "all":
        return None
    match = DURATION.match(text)
    if match:
        return now - float(match.group(1)) * DURATION_UNITS[match.group(2).lower()]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise EdgeError(f"{flag} {text}", "expected a duration like 24h, 30m, 7d, an ISO time, or 'all'") from None
    try:
        stamp = moment.timestamp()
        shown = datetime.fromtimestamp(stamp).replace(tzinfo=None) if moment.tzinfo is None else moment
    except (OverflowError, OSError, ValueError):  # year 1 or 9999 local time: outside what the clock can count
        raise EdgeError(f"{flag} {text}", "date out of range (use 'all' for no limit)") from None
    if shown != moment:  # the hour the clocks skip when daylight saving time starts
        raise EdgeError(f"{flag} {text}", "no such local time here (the clocks skipped it for daylight saving time); "
                                          "give a time outside the skipped hour, or with its UTC offset")
    return stamp


class Mark(NamedTuple):
    """What the tables and the plot need of an event (no box, no probabilities: cheap to stream)."""

    ts: float
    session_id: int
    track_id: int
    label: str


@dataclass(frozen=True)
class EventRange:
    """The events with since <= ts < until (None = unbounded), read within one snapshot of the store."""

    conn: sqlite3.Connection
    since: float | None = None
    until: float | None = None

    def rows(self, columns: str, tail: str = "ORDER BY ts, id") -> Iterator[tuple]:
        bounds = (float("-inf") if self.since is None else self.since,
                  float("inf") if self.until is None else self.until)
        try:  # a for loop, not `yield from`: a reader stopped early must not close the cursor of a closed store
            for row in self.conn.execute(f"SELECT {columns} FROM events WHERE ts >= ? AND ts < ? {tail}", bounds):
                yield row
        except sqlite3.Error as exc:
            raise EdgeError("store", f"cannot read events ({exc})") from None

    def stats(self) -> tuple[int, float, float]:
        """(count, first ts, last ts); the times are 0.0 for an empty range."""
        count, first, last = next(self.rows("count(*), min(ts), max(ts)", ""))
        return int(count), first or 0.0, last or 0.0

    def marks(self) -> Iterator[Mark]:
        for row in self.rows("ts, session_id, track_id, label"):
            yield Mark(*row)

    def events(self) -> Iterator[StoredEvent]:
        for row in self.rows(f"{COLUMNS}, session_id"):
            event = row_event(row[:-1])
            yield StoredEvent(event["ts"], row[-1], event["track_id"], event["label"], event["confidence"],
                              tuple(event["box"]), event["probs"], event["source"])

    def labels(self) -> list[str]:
        """The model's label order (the key order of the first stored probabilities), then any other label in
        the order first seen."""
        first = next(self.rows("probs", "ORDER BY ts, id LIMIT 1"), None)
        labels: list[str] = list(json.loads(first[0])) if first else []
        for (label,) in self.rows("label", "GROUP BY label ORDER BY min(ts), label"):
            if label not in labels:
                labels.append(label)
        return labels


def snapshot(conn: sqlite3.Connection) -> None:
    """Start a read transaction: every later query sees the same store, however much the service writes meanwhile
    (WAL readers keep their snapshot until the transaction ends)."""
    conn.execute("BEGIN")


def interval_start(ts: float, interval: str) -> float:
    moment = datetime.fromtimestamp(ts)
    if interval == "minute":
        moment = moment.replace(second=0, microsecond=0)
    elif interval == "hour":
        moment = moment.replace(minute=0, second=0, microsecond=0)
    else:
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.timestamp()


def interval_end(start: float, interval: str) -> float:
    """The next interval's start: a local day is 23 or 25 hours long when daylight saving time starts or ends."""
    if interval != "day":
        return start + INTERVALS[interval]
    return interval_start(start + SECONDS_PER_DAY + DST_SLACK_S, "day")


def by_interval(events: Iterable[Mark | StoredEvent], interval: str) -> list[Bucket]:
    buckets: dict[float, Bucket] = {}
    for event in events:
        start = interval_start(event.ts, interval)
        bucket = buckets.get(start)
        if bucket is None:
            key = datetime.fromtimestamp(start).strftime(TIME_FORMAT[interval])
            bucket = buckets[start] = Bucket(key, start, interval_end(start, interval))
        bucket.counts[event.label] += 1
    ordered = [buckets[k] for k in sorted(buckets)]
    return tell_repeated_hours_apart(ordered)


def tell_repeated_hours_apart(buckets: list[Bucket]) -> list[Bucket]:
    """When the clocks go back, one local hour happens twice: both rows get their UTC offset (`02:00 +0200`,
    `02:00 +0100`), so the table does not show two identical keys."""
    seen = Counter(bucket.key for bucket in buckets)
    for bucket in buckets:
        if seen[bucket.key] > 1:
            bucket.key += datetime.fromtimestamp(bucket.start).astimezone().strftime(" %z")
    return buckets


def by_track(events: Iterable[Mark | StoredEvent]) -> list[Bucket]:
    """Track ids restart with every service start, so a track is (session, track id)."""
    buckets: dict[tuple[int, int], Bucket] = {}
    for event in events:
        key = (event.session_id, event.track_id)
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = Bucket(f"s{event.session_id}/track {event.track_id}", event.ts, event.ts)
        bucket.end = max(bucket.end, event.ts)
        bucket.counts[event.label] += 1
    return sorted(buckets.values(), key=lambda b: (b.start, b.key))


def summarize(events: Iterable[Mark | StoredEvent], by: str) -> list[Bucket]:
    return by_track(events) if by == "track" else by_interval(events, by)


def format_table(buckets: Sequence[Bucket], labels: Sequence[str], by: str) -> str:
    """One row per bucket and a total row; each label column is `count share%`, as wide as its widest cell."""
    total = Bucket("total", 0.0, 0.0)
    for bucket in buckets:
        total.counts.update(bucket.counts)
    rows = [*buckets, total]
    cells = [[f"{b.counts[label]:d} {100 * b.share(label):5.1f}%" for label in labels] for b in rows]
    key_width = max([len(by), *(len(b.key) for b in rows)])
    events_width = max(len("events"), len(str(total.total)))
    widths = [max(len(label), *(len(row[i]) for row in cells)) for i, label in enumerate(labels)]
    head = [by.ljust(key_width), "events".rjust(events_width)]
    head += [label.rjust(w) for label, w in zip(labels, widths)]
    head.append("  top")
    lines = ["  ".join(head)]
    for bucket, row in zip(rows, cells):
        line = [bucket.key.ljust(key_width), f"{bucket.total:>{events_width}d}"]
        line += [cell.rjust(width) for cell, width in zip(row, widths)]
        top = bucket.counts.most_common(1)[0][0] if bucket.total else "-"
        line.append(f"  {top}")
        lines.append("  ".join(line))
    return "\n".join(lines)


def auto_interval(span_s: float) -> str:
    """The finest interval that gives at most a few times PLOT_TARGET_BUCKETS points over span_s seconds."""
    for name, seconds in sorted(INTERVALS.items(), key=lambda item: item[1]):
        if span_s / seconds <= PLOT_TARGET_BUCKETS * 3:
            return name
    return "day"


def check_png_path(path: Path) -> None:
    """The plot is always a PNG: refuse another suffix before any work (matplotlib would raise on it)."""
    if is_stdout(path):
        raise EdgeError("--png -", "the plot cannot go to stdout; give a file name ending in .png")
    if path.suffix.lower() != PLOT_SUFFIX:
        raise EdgeError(f"--png {path}", f"the file name must end in {PLOT_SUFFIX}")


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (a link, a relative path or `..` included), existing or not."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def check_outputs(store: Path, outputs: dict[str, Path | None]) -> None:
    """Refuse, before anything is written, an output that is the store or one of its side files (the export would
    replace the logged history) or that another flag also writes."""
    store_files = [store, *(Path(f"{store}{suffix}") for suffix in STORE_SIDE_FILES)]
    chosen: dict[str, Path] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        if any(same_file(path, store_file) for store_file in store_files):
            raise EdgeError(f"{flag} {path}", "is the event store itself: an export would replace its history")
        for other_flag, other in chosen.items():
            if same_file(path, other):
                raise EdgeError(f"{flag} {path}", f"is also the {other_flag} file; give each output its own name")
        chosen[flag] = path


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


def write_problem(path: Path, exc: OSError) -> str:
    """Why `path` cannot be written, naming a file that stands where a folder should be (`--csv day.csv/x.csv`
    says more than "File exists")."""
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                return f"cannot write ({folder} is a file, not a folder)"
            break
    return f"cannot write ({exc.strerror or exc})"


def _stageable(path: Path) -> bool:
    """Whether `path` can be replaced by a rename: a new name, or a regular file that is not a link, in a folder
    this user may write. A link (`/dev/stdout` redirected to a file, a link to the real export), a device, a
    pipe or a file in a folder only the file is writable in is written in place."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return False
    folder = next((parent for parent in path.parents if parent.exists()), Path("."))
    return os.access(folder, os.W_OK)


def _keep_owner_and_mode(partial: Path, path: Path) -> None:
    """The replaced export's mode and owner onto its replacement (a private 0600 export stays private)."""
    try:
        earlier = path.stat()
    except FileNotFoundError:
        return
    os.chmod(partial, earlier.st_mode & PERMISSION_BITS)
    with contextlib.suppress(PermissionError):  # only root may give a file away
        os.chown(partial, earlier.st_uid, earlier.st_gid)


def is_stdout(path: Path | None) -> bool:
    return path == STDOUT_PATH


@contextlib.contextmanager
def staged(path: Path, flag: str, mode: str = "w", **open_args) -> Iterator[IO]:
    """Write `path` through a partial file beside it, renamed over `path` only once complete: a full card, an
    interrupted or failed export leaves the previous file (or none), never a truncated one. What cannot be
    replaced by a rename (see _stageable) is written in place; `-` is stdout."""
    if is_stdout(path):
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise EdgeError(f"{flag} -", f"cannot write to stdout ({exc.strerror or exc})") from None
        return
    if not _stageable(path):
        try:
            with path.open(mode, **open_args) as handle:
                yield handle
        except OSError as exc:
            raise EdgeError(f"{flag} {path}", write_problem(path, exc)) from None
        return
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open(mode, **open_args) as handle:
            yield handle
        _keep_owner_and_mode(partial, path)
        os.replace(partial, path)
    except OSError as exc:
        _remove_partial(partial)
        raise EdgeError(f"{flag} {path}", write_problem(path, exc)) from None
    except BaseException:
        _remove_partial(partial)
        raise


def _remove_partial(partial: Path) -> None:
    with contextlib.suppress(OSError):  # none was created (no folder), or it cannot go: the real name is untouched
        partial.unlink(missing_ok=True)


def iso_local(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


def export_csv(events: Iterable[StoredEvent], labels: Sequence[str], path: Path) -> Path:
    header = ["ts", "time", "session", "track_id", "label", "confidence", "x1", "y1", "x2", "y2", "source",
              *(f"p_{label}" for label in labels)]
    with staged(path, "--csv", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for e in events:
            writer.writerow([e.ts, iso_local(e.ts), e.session_id, e.track_id, e.label, e.confidence, *e.box,
                             e.source, *(e.probs.get(label, "") for label in labels)])
    return path


def export_json(events: Iterable[StoredEvent], path: Path) -> Path:
    """A JSON array of contract events, written one event per line as they stream in."""
    with staged(path, "--json", encoding="utf-8") as handle:
        handle.write("[")
        for index, event in enumerate(events):
            handle.write(("\n" if index == 0 else ",\n") + json.dumps(event.as_contract()))
        handle.write("\n]\n")
    return path
