"""Headless JSON-lines event log: one line per face per interval (event format in docs/CONTRACTS.md)."""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import math
import os
import stat
from pathlib import Path
from typing import BinaryIO

from edge.errors import EdgeError
from edge.sinks.base import BaseSink
from edge.staged import write_problem
from edge.types import FaceResult, FrameResult

log = logging.getLogger(__name__)

PRUNE_AFTER_TRACKS = 512  # forget tracks that are due anyway once this many are remembered
# Two stamps exactly one interval apart (frames 0 and 30 of a 30 fps clip) differ by the interval give or take
# the rounding of a 1.8e9 s stamp (2e-7 s): within this slack they count as a whole interval apart.
STAMP_SLACK_S = 1e-3
BYTES_PER_MB = 1024 * 1024
COUNT_CHUNK_BYTES = BYTES_PER_MB  # read at a time when counting the lines of an appended-to log
COUNT_MAX_BYTES = 8 * BYTES_PER_MB  # an appended-to log larger than this is not read to count its lines


def face_event(face: FaceResult, ts: float, source: str) -> dict:
    return {"ts": round(ts, 3), "track_id": face.track_id, "box": face.box.as_list(), "label": face.label,
            "confidence": round(face.confidence, 4), "probs": face.smoothed.as_dict(), "source": source}


class EventThrottle:
    """At most one output per face track per interval (0 = every frame): the events log, the store, crops.

    Remembers when each track was last let through; past PRUNE_AFTER_TRACKS tracks it forgets those whose
    interval is over (they would be let through anyway), so a service running for months stays small.
    A clock set back does not silence a track: a last time in the future counts as over.
    With `by_track=False` (tracking off: every frame has new track ids) it lets through all faces of one frame
    per interval instead, which is again one output per face per interval.
    """

    def __init__(self, interval_s: float, by_track: bool = True) -> None:
        self.interval_s = interval_s
        self.by_track = by_track
        self._last: dict[int, float] = {}
        self._last_frame: float | None = None

    def _waiting(self, last: float | None, ts: float) -> bool:
        return last is not None and 0.0 <= ts - last < self.interval_s - STAMP_SLACK_S

    def _due_frame(self, result: FrameResult) -> list[FaceResult]:
        ts = result.frame.timestamp
        if not result.faces or self._waiting(self._last_frame, ts):
            return []
        self._last_frame = ts
        return list(result.faces)

    def due(self, result: FrameResult) -> list[FaceResult]:
        """The faces of `result` whose track may be output now (and marks them as output)."""
        if not self.by_track:
            return self._due_frame(result)
        ts, out = result.frame.timestamp, []
        for face in result.faces:
            if self._waiting(self._last.get(face.track_id), ts):
                continue
            self._last[face.track_id] = ts
            out.append(face)
        if len(self._last) > PRUNE_AFTER_TRACKS:
            self._last = {track: last for track, last in self._last.items() if self._waiting(last, ts)}
        return out

    def events(self, result: FrameResult) -> list[dict]:
        """Contract events (docs/CONTRACTS.md) of the faces that are due."""
        return [face_event(face, result.frame.timestamp, result.frame.source) for face in self.due(result)]

    @property
    def remembered(self) -> int:
        """Tracks currently remembered (bounded by pruning)."""
        return len(self._last)


def ends_mid_line(path: Path) -> bool:
    """True when the file exists and its last line has no newline (an earlier run cut short by a full disk)."""
    try:
        with path.open("rb") as handle:
            if handle.seek(0, os.SEEK_END) == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except OSError:
        return False


def rotated(path: Path, number: int) -> Path:
    return path.with_name(f"{path.name}.{number}")


def rotated_files(path: Path) -> list[tuple[int, Path]]:
    """(number, file) of every `<path>.<number>` beside `path`, newest (lowest number) first."""
    prefix = path.name + "."
    found = [(int(p.name[len(prefix):]), p) for p in path.parent.glob(glob.escape(prefix) + "*")
             if p.name[len(prefix):].isdigit()]
    return sorted(found)


def rotate(path: Path, keep: int) -> None:
    """events.jsonl -> events.jsonl.1, .1 -> .2, ... up to .keep; files numbered keep and up before the shift
    are removed (also those an earlier run with a larger events_keep left)."""
    for number, older in reversed(rotated_files(path)):
        if number >= keep:
            older.unlink()
        else:
            older.rename(rotated(path, number + 1))
    path.rename(rotated(path, 1))


def count_lines(path: Path) -> int | None:
    """The lines (newlines) in the file; None if it cannot be read."""
    try:
        with path.open("rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(COUNT_CHUNK_BYTES), b""))
    except OSError:
        return None


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def identity_at(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the regular file `path` itself names; None for a device, a FIFO, a link (/dev/stdout, a
    link to a file on a USB stick: never rotated) or nothing."""
    try:
        on_disk = os.lstat(path)
    except OSError:
        return None
    return (on_disk.st_dev, on_disk.st_ino) if stat.S_ISREG(on_disk.st_mode) else None


class JsonlEventSink(BaseSink):
    """Appends events, one unbuffered write per line (every line is in the file when written).

    A line that cannot be written (disk full, I/O error) is counted in `events_failed`, not retried, and the run
    goes on; the first failure of a run of failures is a warning, the next success is logged. A line cut short
    by a full disk is ended before the next one (at close, and when the next run finds it), so every other line
    still parses.

    Past `max_mb` (0 = never) the file is rotated before the next line (see rotate), so a service that logs for
    months keeps at most keep + 1 files of about max_mb each. A rotation that fails is one warning; the lines go
    on into the same file and the rotation is tried again after another max_mb. A file deleted, renamed or
    replaced while the run writes is noticed at the next line (one stat per line), which starts a new file at the
    path. Only a regular file the path itself names is rotated (see identity_at).
    """

    def __init__(self, path: Path, interval_s: float = 1.0, by_track: bool = True, max_mb: float = 0.0,
                 keep: int = 1) -> None:
        self.path = Path(path)
        self._file: BinaryIO | None = None
        self._size = 0  # bytes in the file
        self._identity: tuple[int, int] | None = None  # (device, inode) of the open file; None: not ours to rotate
        self._max_bytes = max(1, math.ceil(max_mb * BYTES_PER_MB)) if max_mb > 0 else 0
        self._rotate_at, self._keep = self._max_bytes, keep
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open()
        except OSError as exc:
            raise EdgeError(f"events log {self.path}", write_problem(self.path, exc)) from None
        self.rotations = 0
        self._throttle = EventThrottle(interval_s, by_track)
        self.events_written = self.events_failed = 0
        self._failure: str | None = None  # the current run of failures, None while writing works
        self._last_problem = ""
        self._cut_short = ends_mid_line(self.path)  # the last line was written in part: end it first

    def write(self, result: FrameResult) -> None:
        for event in self._throttle.events(result):
            line = (json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8")
            self._write_line(b"\n" + line if self._cut_short else line)

    def _open(self) -> None:
        self._file = self.path.open("ab", buffering=0)
        opened = os.fstat(self._file.fileno())
        ours = identity_at(self.path) == (opened.st_dev, opened.st_ino)
        self._identity, self._size = ((opened.st_dev, opened.st_ino) if ours else None), opened.st_size
        self._appended = opened.st_size > 0  # lines of earlier runs are in it: the summary counts them apart

    def _reopen_if_gone(self) -> None:
        """A file that was ours and is no longer at the path (deleted, renamed, replaced): start a new one."""
        if self._file is None or self._identity is None or identity_at(self.path) == self._identity:
            return
        log.warning("events log %s: deleted, renamed or replaced while running; starting a new file", self.path)
        self._file.close()
        self._file = None

    def _rotate_if_full(self) -> None:
        if self._file is None or self._identity is None or not self._max_bytes or self._size < self._rotate_at \
                or self._cut_short:
            return
        self._file.close()
        self._file = None  # reopened by _write_line
        try:
            rotate(self.path, self._keep)
        except OSError as exc:
            self._rotate_at = self._size + self._max_bytes
            log.warning("events log %s: cannot rotate (%s); writing on into it, trying again after another %.3g MB",
                        self.path, exc.strerror or exc, self._max_bytes / BYTES_PER_MB)
            return
        self._rotate_at = self._max_bytes
        self.rotations += 1
        log.info("events log %s: rotated (up to %d older files kept)", self.path, self._keep)

    def _write_line(self, data: bytes) -> None:
        self._reopen_if_gone()
        self._rotate_if_full()
        try:
            if self._file is None:
                self._open()
            written = self._file.write(data) or 0
        except OSError as exc:
            self._failed(exc.strerror or str(exc))
            return
        self._size += written
        self._cut_short = 0 < written < len(data)
        if written < len(data):
            self._failed("short write (disk full?)")
            return
        self.events_written += 1
        if self._failure is not None:
            log.info("events log %s: writing again (%d lines lost)", self.path, self.events_failed)
            self._failure = None

    def _failed(self, problem: str) -> None:
        self.events_failed += 1
        if self._failure is None:
            log.warning("events log %s: cannot write (%s); the run goes on, lost lines are counted", self.path, problem)
        self._failure = self._last_problem = problem

    def describe(self) -> str:
        failed = f", {self.events_failed} not written: {self._last_problem}" if self.events_failed else ""
        rotated_note = f", rotated {self.rotations} time(s)" if self.rotations else ""
        return f"events: {self.path.resolve()} ({self._lines_note()}{rotated_note}{failed})"

    def _lines_note(self) -> str:
        """`10 lines`, or `10 lines from this run, 20 in the file` when the file held lines of earlier runs (it is
        appended to); only a regular file of ours is counted, once, at the end."""
        note = plural(self.events_written, "line")
        if not self._appended or self._identity is None:
            return note
        if self._size > COUNT_MAX_BYTES:  # reading it all would slow every stop (a Pi's SD card)
            return f"{note} from this run, appended to a {self._size / BYTES_PER_MB:.1f} MB file"
        in_file = count_lines(self.path)
        if in_file is None or in_file <= self.events_written:  # fewer: truncated in place meanwhile (copytruncate)
            return note
        return f"{note} from this run, {in_file} in the file"

    def close(self) -> None:
        if self._file is None:
            return
        if self._cut_short:  # end the broken line, so the next run's first line is not glued onto it
            with contextlib.suppress(OSError):
                self._file.write(b"\n")
        self._file.close()
