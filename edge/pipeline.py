"""The pipeline owns the loop: source -> detect -> classify -> track -> sinks, one frame at a time."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from edge.config import TrackingConfig
from edge.motion import BoxFollower
from edge.types import Box, FaceDetector, FaceResult, Frame, FrameResult, FrameSource, Prediction, Sink

log = logging.getLogger(__name__)

STAGES = ("read", "detect", "classify", "track", "sinks")
PROCESSING_STAGES = ("detect", "classify", "track")  # the per-frame cost, decode and output excluded
RECENT_FRAMES = 1000  # window for medians
FPS_SMOOTHING = 0.1
DEFAULT_MAX_GAP_S = TrackingConfig().max_gap_s
GAP_FRAMES = 2.0  # a gap is an outage only if it also spans more than this many of the source's frame intervals


@dataclass
class RunStats:
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    first_frame_s: float | None = None
    stage_totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    recent_processing_ms: deque = field(default_factory=lambda: deque(maxlen=RECENT_FRAMES))
    tracks: int = 0  # distinct track ids seen; counted, not kept (a service runs for months)
    highest_track_id: int = 0  # edge.tracking hands out ids counting up, so a new track has a higher id

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def mean_ms(self, stage: str) -> float:
        return self.stage_totals[stage] / self.frames if self.frames else 0.0

    def record(self, result: FrameResult) -> None:
        """Count one processed frame: faces, new track ids, stage times."""
        self.frames += 1
        self.faces += len(result.faces)
        new_ids = {f.track_id for f in result.faces if f.track_id > self.highest_track_id}
        if new_ids:
            self.tracks += len(new_ids)
            self.highest_track_id = max(new_ids)
        for stage, ms in result.stage_ms.items():
            self.stage_totals[stage] = self.stage_totals.get(stage, 0.0) + ms
        self.recent_processing_ms.append(sum(result.stage_ms.get(s, 0.0) for s in PROCESSING_STAGES))

    def median_processing_ms(self) -> float:
        return statistics.median(self.recent_processing_ms) if self.recent_processing_ms else 0.0

    def summary(self) -> str:
        stages = " ".join(f"{s}={self.mean_ms(s):.2f}" for s in STAGES)
        return (f"summary: frames={self.frames} faces={self.faces} tracks={self.tracks} "
                f"seconds={self.seconds:.1f} fps={self.fps:.1f} ms/frame(mean): {stages} "
                f"processing(median)={self.median_processing_ms():.2f}")


class Detections(NamedTuple):
    """A frame's face boxes; `detected` is False when they were followed from the previous frame (detect_every)."""

    boxes: list[Box]
    detected: bool


def scene_change(previous: Frame, frame: Frame, max_gap_s: float) -> tuple[str, str] | None:
    """(kind, description) when `frame` does not continue `previous`: another size (a camera reopened at another
    resolution, a folder of mixed images), another source name (the next photo of a folder: unrelated people), or
    more than max_gap_s between them (a camera outage: whoever comes next is not who was there before)."""
    if previous.image.shape != frame.image.shape:
        (h0, w0), (h1, w1) = previous.image.shape[:2], frame.image.shape[:2]
        return "size", f"frame size changed from {w0}x{h0} to {w1}x{h1}"
    if previous.source != frame.source:
        return "source", f"frames now come from {frame.source} (before: {previous.source})"
    gap = frame.timestamp - previous.timestamp
    if gap > max_gap_s:
        return "gap", f"no frame for {gap:.1f} s"
    return None


def outage_gap_s(source: FrameSource, max_gap_s: float) -> float:
    """The gap between frames that counts as an outage: max_gap_s, or more for a source whose own frames are
    further apart (a time-lapse video at 0.25 fps is not a camera that failed between each two frames)."""
    fps = getattr(source, "fps", None)
    return max(max_gap_s, GAP_FRAMES / fps) if fps else max_gap_s


class Pipeline:
    """`step(frame)` processes one frame and feeds the sinks; `run()` loops until end, limit or stop."""

    def __init__(self, source: FrameSource, detector: FaceDetector, classifier, tracker, sinks: list[Sink] | None = None,
                 detect_every: int = 1, max_frames: int | None = None, duration: float | None = None,
                 stop_event: threading.Event | None = None, max_gap_s: float = DEFAULT_MAX_GAP_S) -> None:
        """`stop_event`: also the source's cancel event (edge.sources.reconnect), so a stop request or the end of
        `duration` interrupts a reconnect backoff, where no frame arrives to check the limits between.
        `max_gap_s`: a longer wait between two frames starts new tracks (see scene_change)."""
        self.source, self.detector, self.classifier, self.tracker = source, detector, classifier, tracker
        self.sinks: list[Sink] = []
        self._stop_checks: list[Callable[[], bool]] = []  # the sinks' optional should_stop hooks, looked up once
        for sink in sinks or []:
            self.add_sink(sink)
        self.detect_every, self.max_frames, self.duration = detect_every, max_frames, duration
        self.max_gap_s = outage_gap_s(source, max_gap_s)
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self._stop_requested = False
        self._deadline_passed = threading.Event()
        self._follower = BoxFollower()
        self._last_frame: Frame | None = None
        self._scene_changes: Counter[str] = Counter()
        self.stats = RunStats()
        self._started = time.monotonic()
        self._last_step: float | None = None
        self._fps = 0.0

    # --- stages: each a function of the frame ------------------------------------------------
    def detect_stage(self, frame: Frame) -> Detections:
        """Detect; with detect_every > 1, in-between frames move the tracked boxes with the image instead (and with
        no track, find nothing: a face coming in is found at the next detection, at most detect_every - 1 frames
        later). The first frame of a new scene (see scene_change) is always detected, its tracks started afresh."""
        new_scene = self._note_scene(frame)
        if self.detect_every > 1 and frame.index % self.detect_every != 0 and not new_scene:
            held = self.tracker.boxes()
            return Detections(self._follower.follow(frame.image, held) if held else [], detected=False)
        boxes = [b for b in self.detector.detect(frame.image) if b.width > 0 and b.height > 0]  # detectors clip
        if self.detect_every > 1:
            self._follower.remember(frame.image)
        return Detections(boxes, detected=True)

    def _note_scene(self, frame: Frame) -> bool:
        """True when this frame starts a new scene; the tracker then forgets its tracks (their boxes, smoothed
        probabilities and labels belong to other faces). Logged at info the first time for each kind of change."""
        previous, self._last_frame = self._last_frame, frame
        change = scene_change(previous, frame, self.max_gap_s) if previous is not None else None
        if change is None:
            return False
        kind, text = change
        self._scene_changes[kind] += 1
        (log.info if self._scene_changes[kind] == 1 else log.debug)("%s; detecting afresh and starting new tracks", text)
        self.tracker.reset()
        return True

    def classify_stage(self, frame: Frame, boxes: list[Box]) -> list[Prediction]:
        return self.classifier.classify(frame.image, boxes)

    def track_stage(self, frame: Frame, found: Detections, predictions: list[Prediction]) -> list[FaceResult]:
        return self.tracker.update(found.boxes, predictions, frame.timestamp, found.detected)

    # --- loop ----------------------------------------------------------------------------
    def add_sink(self, sink: Sink) -> None:
        self.sinks.append(sink)
        check = getattr(sink, "should_stop", None)  # optional hook (Sink)
        if check is not None:
            self._stop_checks.append(check)

    def request_stop(self) -> None:
        """The current frame finishes, then run() returns. Not from a signal handler (Event.set takes the event's
        lock, which the interrupted main thread may hold): edge.stop_signals calls it from its own thread."""
        self._stop_requested = True
        self.stop_event.set()

    def _end_of_duration(self) -> None:
        """The deadline timer: stops the loop like a stop request, also while the source waits to reconnect."""
        self._deadline_passed.set()
        self.stop_event.set()

    def _start_deadline(self) -> threading.Timer | None:
        if self.duration is None:
            return None
        timer = threading.Timer(self.duration, self._end_of_duration)
        timer.name, timer.daemon = "edge-duration", True
        timer.start()
        return timer

    def _update_fps(self) -> float:
        """1 / the smoothed time between frames. Smoothing the interval, not its inverse: frames that come unevenly
        (in pairs 5 ms apart from a 15 fps camera) averaged as 1/interval read 40-99 fps."""
        now = time.monotonic()
        if self._last_step is not None and now > self._last_step:
            interval = now - self._last_step
            smoothed = interval if self._fps == 0 else (1 - FPS_SMOOTHING) / self._fps + FPS_SMOOTHING * interval
            self._fps = 1.0 / smoothed
        self._last_step = now
        return self._fps

    def step(self, frame: Frame, read_ms: float = 0.0) -> FrameResult:
        timings = {"read": read_ms}
        t0 = time.perf_counter()
        found = self.detect_stage(frame)
        t1 = time.perf_counter()
        predictions = self.classify_stage(frame, found.boxes)
        t2 = time.perf_counter()
        faces = self.track_stage(frame, found, predictions)
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
        stats.record(result)

    def _limit_reached(self) -> bool:
        if self.max_frames is not None and self.stats.frames >= self.max_frames:
            log.info("stopping: --max-frames %d reached", self.max_frames)
            return True
        if self.duration is not None and time.monotonic() - self._started >= self.duration:
            self._deadline_passed.set()  # logged once the loop has ended
            return True
        return False

    def run(self) -> RunStats:
        """Loop until end of stream, a limit, a sink's should_stop() or request_stop(). The duration is also enforced
        by a timer that sets `stop_event`, since a reconnecting source may wait in read() for a long time."""
        self._started = time.monotonic()
        self._deadline_passed.clear()
        timer = self._start_deadline()
        try:
            self._loop()
        finally:
            if timer is not None:
                timer.cancel()
                timer.join()  # cancel() does not stop a timer that already woke: let it finish before the clear
        if self._deadline_passed.is_set():
            log.info("stopping: --duration %.1f s reached", self.duration)
            if not self._stop_requested:
                self.stop_event.clear()  # set only by the timer: a later run() may go on
                if self._stop_requested:  # a request_stop (signal) that landed between the check and clear()
                    self.stop_event.set()
        elif self.stop_event.is_set():
            log.info("stop requested; finished the current frame")
        self.stats.seconds = time.monotonic() - self._started
        return self.stats

    def _loop(self) -> None:
        while not self.stop_event.is_set() and not self._limit_reached():
            t0 = time.perf_counter()
            frame = self.source.read()
            read_ms = (time.perf_counter() - t0) * 1e3
            if frame is None:
                if not self.stop_event.is_set():
                    self._log_end_of_stream()
                break
            self.step(frame, read_ms)
            if any(check() for check in self._stop_checks):
                break

    def _log_end_of_stream(self) -> None:
        """INFO for a stream that ended; a WARNING with the reason when a live source failed and nothing reopens
        it (`source.reconnect: false`: the source's own read failure is only DEBUG, see edge.sources.picam)."""
        name = getattr(self.source, "name", "source")
        failure = getattr(self.source, "last_failure", None)
        if failure:
            log.warning("%s stopped: %s (source.reconnect is off)", name, failure)
        else:
            log.info("end of stream from %s", name)

    def log_results(self, stats: RunStats) -> None:
        """The end-of-run summary: the figures, then where each sink's output went."""
        log.info(stats.summary())
        for sink in self.sinks:
            where = getattr(sink, "describe", lambda: "")()  # optional hook (Sink)
            if where:
                log.info("results: %s", where)

    def close(self) -> None:
        """Close sinks first (flush logs), then the source (release the camera), then models."""
        for part in [*self.sinks, self.source, self.detector, self.classifier]:
            try:
                part.close()
            except Exception:  # noqa: BLE001 - closing must not hide the run's outcome
                log.exception("error while closing %s", type(part).__name__)
