"""Headless JSON-lines event log: one line per face per interval (event format in docs/CONTRACTS.md)."""

from __future__ import annotations

import json
from pathlib import Path

from edge.errors import EdgeError
from edge.sinks.base import BaseSink
from edge.types import FaceResult, FrameResult

PRUNE_AFTER_TRACKS = 512  # forget tracks that are due anyway once this many are remembered


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
        return last is not None and 0.0 <= ts - last < self.interval_s

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


class JsonlEventSink(BaseSink):
    """Appends events, line-buffered (every line reaches the file as it is written)."""

    def __init__(self, path: Path, interval_s: float = 1.0, by_track: bool = True) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", buffering=1, encoding="utf-8")
        except OSError as exc:
            raise EdgeError(f"events log {self.path}", f"cannot write ({exc.strerror or exc})") from None
        self._throttle = EventThrottle(interval_s, by_track)
        self.events_written = 0

    def write(self, result: FrameResult) -> None:
        for event in self._throttle.events(result):
            self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
            self.events_written += 1

    def describe(self) -> str:
        return f"events: {self.path.resolve()} ({self.events_written} lines)"

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()
