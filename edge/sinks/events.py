"""Headless JSON-lines event log: one line per face per interval (event format in docs/CONTRACTS.md)."""

from __future__ import annotations

import json
from pathlib import Path

from edge.errors import EdgeError
from edge.sinks.base import BaseSink
from edge.types import FaceResult, FrameResult

PRUNE_AFTER_TRACKS = 512


def face_event(face: FaceResult, ts: float, source: str) -> dict:
    return {"ts": round(ts, 3), "track_id": face.track_id, "box": face.box.as_list(), "label": face.label,
            "confidence": round(face.confidence, 4), "probs": face.smoothed.as_dict(), "source": source}


class JsonlEventSink(BaseSink):
    """Appends events, line-buffered (every line reaches the file as it is written)."""

    def __init__(self, path: Path, interval_s: float = 1.0) -> None:
        self.path = Path(path)
        self.interval_s = interval_s
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", buffering=1, encoding="utf-8")
        except OSError as exc:
            raise EdgeError(f"events log {self.path}", f"cannot write ({exc.strerror or exc})") from None
        self._last: dict[int, float] = {}
        self.events_written = 0

    def write(self, result: FrameResult) -> None:
        ts = result.frame.timestamp
        for face in result.faces:
            last = self._last.get(face.track_id)
            if last is not None and ts - last < self.interval_s:
                continue
            self._last[face.track_id] = ts
            self._file.write(json.dumps(face_event(face, ts, result.frame.source), separators=(",", ":")) + "\n")
            self.events_written += 1
        if len(self._last) > PRUNE_AFTER_TRACKS:
            live = {f.track_id for f in result.faces}
            self._last = {k: v for k, v in self._last.items() if k in live}

    def describe(self) -> str:
        return f"events: {self.path.resolve()} ({self.events_written} lines)"

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()
