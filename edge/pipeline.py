"""The pipeline owns the loop: source -> detect -> classify -> track -> sinks, one frame at a time."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from edge.motion import BoxFollower
from edge.types import Box, FaceDetector, FaceResult, Frame, FrameResult, FrameSource, Prediction, Sink

log = logging.getLogger(__name__)

STAGES = ("read", "detect", "classify", "track", "sinks")
PROCESSING_STAGES = ("detect", "classify", "track")  # the per-frame cost, decode and output excluded
RECENT_FRAMES = 1000  # window for medians
FPS_SMOOTHING = 0.1


@dataclass
class RunStats:
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    first_frame_s: float | None = None
    stage_totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    recent_processing_ms: deque = field(default_factory=lambda: deque(maxlen=RECENT_FRAMES))
    track_ids: set[int] = field(default_factory=set)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def mean_ms(self, stage: str) -> float:
        return self.stage_totals[stage] / self.frames if self.frames else 0.0

    def median_processing_ms(self) -> float:
        return statistics.median(self.recent_processing_ms) if self.recent_processing_ms else 0.0

    def summary(self) -> str:
        stages = " ".join(f"{s}={self.mean_ms(s):.2f}" for s in STAGES)
        return (f"summary: frames={self.frames} faces={self.faces} tracks={len(self.track_ids)} "
                f"seconds={self.seconds:.1f} fps={self.fps:.1f} ms/frame(mean): {stages} "
                f"processing(median)={self.median_processing_ms():.2f}")


class Pipeline:
    """`step(frame)` processes one frame and feeds the sinks; `run()` loops until end, limit or stop."""

    def __init__(self, source: FrameSource, detector: FaceDetector, classifier, tracker, sinks: list[Sink] | None = None,
                 detect_every: int = 1, max_frames: int | None = None, duration: float | None = None) -> None:
        self.source, self.detector, self.classifier, self.tracker = source, detector, classifier, tracker
        self.sinks: list[Sink] = list(sinks or [])
        self.detect_every, self.max_frames, self.duration = detect_every, max_frames, duration
        self.stop_event = threading.Event()
        self._follower = BoxFollower()
        self.stats = RunStats()
        self._started = time.monotonic()
        self._last_step: float | None = None
        self._fps = 0.0

    # --- stages: each a function of the frame ------------------------------------------------
    def detect_stage(self, frame: Frame) -> list[Box]:
        """Detect; with detect_every > 1, in-between frames move the tracked boxes with the image instead."""
        if self.detect_every > 1 and frame.index % self.detect_every != 0:
            held = self.tracker.boxes()
            if held:
                return self._follower.follow(frame.image, held)
        boxes = [b for b in self.detector.detect(frame.image) if b.width > 0 and b.height > 0]
        if self.detect_every > 1:
            self._follower.remember(frame.image)
        return boxes

    def classify_stage(self, frame: Frame, boxes: list[Box]) -> list[Prediction]:
        return self.classifier.classify(frame.image, boxes)

    def track_stage(self, boxes: list[Box], predictions: list[Prediction]) -> list[FaceResult]:
        return self.tracker.update(boxes, predictions)

    # --- loop ----------------------------------------------------------------------------
    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)

    def request_stop(self) -> None:
        """Safe from signal handlers: the current frame finishes, then run() returns."""
        self.stop_event.set()

    def _update_fps(self) -> float:
        now = time.monotonic()
        if self._last_step is not None and now > self._last_step:
            instant = 1.0 / (now - self._last_step)
            self._fps = instant if self._fps == 0 else (1 - FPS_SMOOTHING) * self._fps + FPS_SMOOTHING * instant
        self._last_step = now
        return self._fps

    def step(self, frame: Frame, read_ms: float = 0.0) -> FrameResult:
        timings = {"read": read_ms}
        t0 = time.perf_counter()
        boxes = self.detect_stage(frame)
        t1 = time.perf_counter()
        predictions = self.classify_stage(frame, boxes)
        t2 = time.perf_counter()
        faces = self.track_stage(boxes, predictions)
        t3 = time.perf_counter()
        timings.update(detect=(t1 - t0) * 1e3, classify=(t2 - t1) * 1e3, track=(t3 - t2) * 1e3)
        result = FrameResult(frame=frame, faces=faces, stage_ms=timings, fps=self._update_fps())
        for sink in self.sinks:
            sink.write(result)
        timings["sinks"] = (time.perf_counter() - t3) * 1e3
        self._record(result)
        return result

    def _record(self, result: FrameResult) -> None:
        stats = self.stats
        if stats.frames == 0:
            stats.first_frame_s = time.monotonic() - self._started
            log.info("first frame processed %.2f s after pipeline start (%d face(s))", stats.first_frame_s, len(result.faces))
        stats.frames += 1
        stats.faces += len(result.faces)
        stats.track_ids.update(f.track_id for f in result.faces)
        for stage, ms in result.stage_ms.items():
            stats.stage_totals[stage] = stats.stage_totals.get(stage, 0.0) + ms
        stats.recent_processing_ms.append(sum(result.stage_ms.get(s, 0.0) for s in PROCESSING_STAGES))

    def _limit_reached(self) -> bool:
        if self.max_frames is not None and self.stats.frames >= self.max_frames:
            log.info("stopping: --max-frames %d reached", self.max_frames)
            return True
        if self.duration is not None and time.monotonic() - self._started >= self.duration:
            log.info("stopping: --duration %.1f s reached", self.duration)
            return True
        return False

    def run(self) -> RunStats:
        self._started = time.monotonic()
        while not self.stop_event.is_set() and not self._limit_reached():
            t0 = time.perf_counter()
            frame = self.source.read()
            read_ms = (time.perf_counter() - t0) * 1e3
            if frame is None:
                if not self.stop_event.is_set():
                    log.info("end of stream from %s", getattr(self.source, "name", "source"))
                break
            self.step(frame, read_ms)
            if any(getattr(sink, "should_stop", lambda: False)() for sink in self.sinks):
                break
        if self.stop_event.is_set():
            log.info("stop requested; finished the current frame")
        self.stats.seconds = time.monotonic() - self._started
        return self.stats

    def close(self) -> None:
        """Close sinks first (flush logs), then the source (release the camera), then models."""
        for part in [*self.sinks, self.source, self.detector, self.classifier]:
            try:
                part.close()
            except Exception:  # noqa: BLE001 - closing must not hide the run's outcome
                log.exception("error while closing %s", type(part).__name__)
