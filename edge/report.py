"""Reports over the event store: the events of a time range, emotion counts and shares per time interval or
per face track, the table of them, and CSV / JSON exports of the raw events; the checks `python -m edge report`
makes of its output paths before it reads the store.

Rows are streamed from SQLite, never all held at once: a month of one face at one event per second is about
2.6 M rows (the store's default 500 MB), which as Python objects would not fit in a Raspberry Pi's memory.

The PNG timeline is edge/report_chart.py (the only part that needs matplotlib), and the whole-or-nothing writing of
every output file is edge/staged.py (which edge.bench uses too)."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from edge.errors import EdgeError
from edge.staged import staged
from edge.store.db import COLUMNS, SECONDS_PER_DAY, SIDE_FILES
from edge.store.files import cleanly_stopped

log = logging.getLogger(__name__)

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
SHOWN_DAMAGED_IDS = 10  # event ids named in the warning about unreadable probabilities


@dataclass(frozen=True)
class StoredEvent:
    ts: float
    session_id: int
    track_id: int
    label: str
    confidence: float
    box: tuple[int, int, int, int]
    probs: dict[str, float] | None  # None: stored damaged (edited by hand), exported without them
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


def is_bare_date(text: str) -> bool:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def parse_since(text: str, now: float | None = None, flag: str = "--since") -> float | None:
    """`24h`, `30m`, `7d`, `90s`, `2w` before now; an ISO date/time (local time); `all` = no limit.
    A bare date is the first moment of that local day: 01:00 where the clocks skip midnight for daylight saving
    time (Chile, Cuba, Lebanon), as a `--by day` row starts. `flag` names the option in the error (--since or
    --until)."""
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
    if shown != moment and not is_bare_date(text):  # the hour the clocks skip when daylight saving time starts
        raise EdgeError(f"{flag} {text}", "no such local time here (the clocks skipped it for daylight saving time); "
                                          "give a time outside the skipped hour, or with its UTC offset")
    return stamp


def stored_probs(text: str) -> dict[str, float] | None:
    """An event's stored probabilities, or None unless they are a JSON object of finite numbers."""
    try:
        probs = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(probs, dict) or not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p) for p in probs.values()):
        return None
    return probs


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
    path: Path | None = None  # the store file, named in errors

    @property
    def name(self) -> str:
        return "store" if self.path is None else f"store {self.path}"

    def rows(self, columns: str, tail: str = "ORDER BY ts, id") -> Iterator[tuple]:
        bounds = (float("-inf") if self.since is None else self.since,
                  float("inf") if self.until is None else self.until)
        try:  # a for loop, not `yield from`: a reader stopped early must not close the cursor of a closed store
            for row in self.conn.execute(f"SELECT {columns} FROM events WHERE ts >= ? AND ts < ? {tail}", bounds):
                yield row
        except sqlite3.Error as exc:
            again = ("; if the service opened it during the report (a -wal is there now), run the report again"
                     if self.path is not None and not cleanly_stopped(self.path) else "")
            raise EdgeError(self.name, f"cannot read events ({exc}){again}") from None

    def stats(self) -> tuple[int, float, float]:
        """(count, first ts, last ts); the times are 0.0 for an empty range."""
        count, first, last = next(self.rows("count(*), min(ts), max(ts)", ""))
        return int(count), first or 0.0, last or 0.0

    def marks(self) -> Iterator[Mark]:
        for row in self.rows("ts, session_id, track_id, label"):
            yield Mark(*row)

    def events(self) -> Iterator[StoredEvent]:
        """Every event in time order. One whose probabilities cannot be read (a store edited by hand) comes with
        None, and the ids of such events are logged when the reading ends (also when stopped early): the export
        goes on without them."""
        damaged: list[int] = []
        try:
            for ts, track_id, x1, y1, x2, y2, label, confidence, text, source, session_id, row_id in self.rows(
                    f"{COLUMNS}, session_id, id"):
                probs = stored_probs(text)
                if probs is None:
                    damaged.append(row_id)
                yield StoredEvent(ts, session_id, track_id, label, confidence, (x1, y1, x2, y2), probs, source)
        finally:
            if damaged:
                shown = ", ".join(map(str, damaged[:SHOWN_DAMAGED_IDS]))
                log.warning("%s: %d event(s) with unreadable probabilities, exported without them (event id %s%s)",
                            self.name, len(damaged), shown, ", ..." if len(damaged) > SHOWN_DAMAGED_IDS else "")

    def labels(self) -> list[str]:
        """The model's label order (the key order of the first readable stored probabilities), then any other
        label in the order first seen."""
        first = next((probs for (text,) in self.rows("probs") if (probs := stored_probs(text)) is not None), None)
        labels: list[str] = list(first or {})
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
                             e.source, *((e.probs or {}).get(label, "") for label in labels)])
    return path


def export_json(events: Iterable[StoredEvent], path: Path) -> Path:
    """A JSON array of contract events, written one event per line as they stream in."""
    with staged(path, "--json", encoding="utf-8") as handle:
        handle.write("[")
        for index, event in enumerate(events):
            handle.write(("\n" if index == 0 else ",\n") + json.dumps(event.as_contract()))
        handle.write("\n]\n")
    return path
