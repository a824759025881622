"""Optional face-crop dump (off by default: face images are never written unless asked for)."""

from __future__ import annotations

from pathlib import Path

import cv2

from edge.errors import EdgeError
from edge.sinks.base import BaseSink
from edge.types import FrameResult


class CropSink(BaseSink):
    """Writes `<dir>/track<id>_<frame>_<label>.jpg`, at most one per track per interval."""

    def __init__(self, folder: Path, interval_s: float = 1.0) -> None:
        self.folder, self.interval_s = Path(folder), interval_s
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeError(f"crops folder {self.folder}", f"cannot create ({exc.strerror})") from None
        self._last: dict[int, float] = {}
        self.written = 0

    def write(self, result: FrameResult) -> None:
        ts = result.frame.timestamp
        for face in result.faces:
            if ts - self._last.get(face.track_id, float("-inf")) < self.interval_s:
                continue
            self._last[face.track_id] = ts
            b = face.box
            name = f"track{face.track_id}_{result.frame.index:06d}_{face.label}.jpg"
            cv2.imwrite(str(self.folder / name), result.frame.image[b.y1:b.y2, b.x1:b.x2])
            self.written += 1

    def describe(self) -> str:
        return f"crops: {self.folder.resolve()} ({self.written} files)"
