"""What the web view shows, kept by the pipeline thread and read by the request threads (all under one lock).

The pipeline side only stores a reference to the newest FrameResult and counts labels: no drawing, no encoding.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.types import FaceResult, FrameResult

STALE_AFTER_S = 10.0  # health turns "stale" when no frame arrived for this long
ROUND = 4


@dataclass
class Bucket:
    """Label counts (one per face per frame) of the frames received in [start, start + bucket_s)."""

    start: float
    frames: int = 0
    counts: Counter = field(default_factory=Counter)


class RollingStats:
    """Emotion shares over the last `window_s` seconds, in buckets of `bucket_s` seconds. Not locked itself."""

    def __init__(self, window_s: float, bucket_s: float) -> None:
        self.window_s, self.bucket_s = window_s, min(bucket_s, window_s)
        self._buckets: deque[Bucket] = deque()

    def add(self, now: float, labels: list[str]) -> None:
        start = math.floor(now / self.bucket_s) * self.bucket_s
        if not self._buckets or self._buckets[-1].start != start:
            self._buckets.append(Bucket(start))
        bucket = self._buckets[-1]
        bucket.frames += 1
        bucket.counts.update(labels)
        self._prune(now)

    def _prune(self, now: float) -> None:
        while self._buckets and self._buckets[0].start + self.bucket_s <= now - self.window_s:
            self._buckets.popleft()

    def snapshot(self, now: float, labels: list[str]) -> dict:
        self._prune(now)
        totals: Counter = Counter()
        buckets = []
        for bucket in self._buckets:
            totals.update(bucket.counts)
            seen = sum(bucket.counts.values())
            buckets.append({"start": round(bucket.start, 3), "age_s": round(now - bucket.start, 1),
                            "frames": bucket.frames, "faces": seen, "counts": {name: bucket.counts.get(name, 0) for name in labels},
                            "shares": {name: round(bucket.counts.get(name, 0) / seen, ROUND) if seen else 0.0
                                       for name in labels}})
        seen = sum(totals.values())
        return {"window_s": self.window_s, "bucket_s": self.bucket_s, "labels": labels, "buckets": buckets,
                "faces": seen, "counts": {name: totals.get(name, 0) for name in labels},
                "shares": {name: round(totals.get(name, 0) / seen, ROUND) if seen else 0.0 for name in labels}}


def face_json(face: FaceResult) -> dict:
    return {"track_id": face.track_id, "box": face.box.as_list(), "label": face.label,
            "confidence": round(face.confidence, ROUND), "probs": face.smoothed.as_dict()}


class WebState:
    """Thread-safe latest result + rolling statistics; `wait_newer` lets stream clients sleep until a new frame."""

    def __init__(self, window_s: float, bucket_s: float, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._stats = RollingStats(window_s, bucket_s)
        self._latest: FrameResult | None = None
        self._received_at = 0.0
        self._labels: list[str] = []
        self.sequence = 0  # number of frames received
        self._waiting: str | None = None  # why no frame came yet (the service waits for its camera), or None
        self.started = clock()
        self.closed = threading.Event()

    # --- pipeline thread ----------------------------------------------------------------
    def update(self, result: FrameResult) -> None:
        now = self._clock()
        with self._cond:
            self._latest, self._received_at = result, now
            if not self._labels and result.faces:
                self._labels = list(result.faces[0].smoothed.labels)
            self._stats.add(now, [face.label for face in result.faces])
            self.sequence += 1
            self._cond.notify_all()

    def wait_for(self, why: str) -> None:
        """No frame yet, and this is why (until the first frame arrives)."""
        with self._cond:
            self._waiting = why

    def close(self) -> None:
        self.closed.set()
        with self._cond:
            self._cond.notify_all()

    # --- request threads ----------------------------------------------------------------
    def wait_newer(self, sequence: int, timeout: float) -> tuple[int, FrameResult | None]:
        """(sequence, result) once a frame newer than `sequence` exists, or the current ones after `timeout`."""
        with self._cond:
            self._cond.wait_for(lambda: self.sequence > sequence or self.closed.is_set(), timeout)
            return self.sequence, self._latest

    def snapshot(self) -> dict:
        now = self._clock()
        with self._cond:
            latest, received, labels = self._latest, self._received_at, list(self._labels)
            stats = self._stats.snapshot(now, labels)
            sequence = self.sequence
            waiting = self._waiting if sequence == 0 else None
        frame = None
        if latest is not None:
            height, width = latest.frame.image.shape[:2]
            frame = {"sequence": sequence, "index": latest.frame.index, "source": latest.frame.source,
                     "fps": round(latest.fps, 2), "width": width, "height": height, "age_s": round(now - received, 3),
                     "stage_ms": {k: round(v, 2) for k, v in latest.stage_ms.items()}}
        faces = [face_json(f) for f in latest.faces] if latest is not None else []
        return {"time": round(now, 3), "started": round(self.started, 3), "frame": frame, "faces": faces,
                "stats": stats, "waiting": waiting}

    def health(self) -> tuple[dict, bool]:
        now = self._clock()
        with self._cond:
            sequence, received, waiting = self.sequence, self._received_at, self._waiting
        age = now - received if sequence else None
        if sequence == 0:
            status = "waiting" if waiting else "starting"
        else:
            status = "ok" if age is not None and age <= STALE_AFTER_S else "stale"
        body = {"status": status, "frames": sequence, "uptime_s": round(now - self.started, 1),
                "last_frame_age_s": None if age is None else round(age, 3)}
        if status == "waiting":
            body["waiting_for"] = waiting
        return body, status == "ok"
