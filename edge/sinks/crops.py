"""Optional face-crop dump (off by default: face images are never written unless asked for)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2

from edge.errors import EdgeError
from edge.sinks.base import BaseSink
from edge.sinks.events import EventThrottle
from edge.types import FaceResult, FrameResult

log = logging.getLogger(__name__)

RUN_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


class CropSink(BaseSink):
    """Writes `<dir>/<run start>_track<id>_<frame>_<label>.jpg`, at most one per track per interval. Track ids and
    frame numbers restart with every run (and service restart); the run's start time (UTC) in the name keeps an
    earlier run's crops from being overwritten.

    A crop that cannot be written (disk full, folder removed) is counted in `failed`, not `written`; the first
    failure of a run of failures is a warning, the rest are debug lines, and the next success is logged.
    """

    def __init__(self, folder: Path, interval_s: float = 1.0, by_track: bool = True) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeError(f"crops folder {self.folder}", f"cannot create ({exc.strerror})") from None
        self._throttle = EventThrottle(interval_s, by_track)
        self.run_stamp = time.strftime(RUN_STAMP_FORMAT, time.gmtime())
        self.written = 0
        self.failed = 0
        self._failing = False

    def write(self, result: FrameResult) -> None:
        for face in self._throttle.due(result):
            self._save(result, face)

    def _save(self, result: FrameResult, face: FaceResult) -> None:
        b = face.box
        path = self.folder / f"{self.run_stamp}_track{face.track_id}_{result.frame.index:06d}_{face.label}.jpg"
        try:
            ok = cv2.imwrite(str(path), result.frame.image[b.y1:b.y2, b.x1:b.x2])
        except cv2.error:
            ok = False
        if ok:
            self.written += 1
            if self._failing:
                log.info("crops: writing again to %s (%d crops failed)", self.folder, self.failed)
                self._failing = False
            return
        self.failed += 1
        if not self._failing:
            log.warning("crops: cannot write %s; further failures are counted, not logged, until one succeeds", path)
            self._failing = True
        else:
            log.debug("crops: cannot write %s", path)

    def describe(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"crops: {self.folder.resolve()} ({self.written} files{failed})"
