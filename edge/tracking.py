"""Face tracks with stable ids across frames (IoU matching, centre-distance fallback) and smoothing.

The centre-distance gate is per frame at a steady rate, but a face moves per second: when frames come slowly (a
Pi with Haar at 4 fps, a busy machine skipping frames of a live source) the gate grows with the time since the
track's face was last detected, so one moving face keeps one id. It grows only while frames are slow (further
apart than centre_distance / centre_speed): at a steady camera rate, a track missed for a few frames keeps the
per-frame gate, so another face coming in near it is a new track. It never grows past MAX_CENTRE_GATE box
sizes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.config import SmoothingConfig, TrackingConfig
from edge.smoothing import ema, hysteresis_label
from edge.types import Box, FaceResult, Prediction


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x2, b.x2) - max(a.x1, b.x1))
    iy = max(0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def centre_distance(a: Box, b: Box) -> float:
    """Distance between centres in units of the larger side of `a`."""
    dx = (a.x1 + a.x2 - b.x1 - b.x2) / 2
    dy = (a.y1 + a.y2 - b.y1 - b.y2) / 2
    return float(np.hypot(dx, dy)) / max(1, a.width, a.height)


MAX_CENTRE_GATE = 2.0  # box sizes: the largest centre distance a slow frame rate may stretch the gate to


@dataclass
class Track:
    track_id: int
    box: Box
    probs: np.ndarray | None = None
    label: str | None = None
    missed: int = 0
    detected_at: float | None = None  # timestamp of the frame where the detector last found its face


def centre_gate(track: Track, timestamp: float | None, frame_gap: float | None, tracking: TrackingConfig) -> float:
    """How far (in box sizes) a face's centre may be from `track`'s to continue it. centre_distance while frames
    come at a steady rate (`frame_gap`, the time since the previous frame, under centre_distance / centre_speed);
    when they come slower, what a face moving at centre_speed covers since the track's face was last detected,
    at most MAX_CENTRE_GATE (or centre_distance, if that is set higher)."""
    steady = frame_gap is None or tracking.centre_speed * frame_gap <= tracking.centre_distance
    if steady or timestamp is None or track.detected_at is None:
        return tracking.centre_distance
    moved = tracking.centre_speed * max(0.0, timestamp - track.detected_at)
    return max(tracking.centre_distance, min(moved, MAX_CENTRE_GATE))


def match(tracks: list[Track], boxes: list[Box], iou_threshold: float, gates: list[float]) -> dict[int, int]:
    """Greedy assignment box index -> track index, best IoU first, then nearest centre within each track's gate
    (`gates[i]` for `tracks[i]`, in box sizes)."""
    pairs: dict[int, int] = {}
    used: set[int] = set()
    scored = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(tracks) for bi, b in enumerate(boxes)), reverse=True)
    for score, ti, bi in scored:
        if score < iou_threshold or score <= 0.0:
            break
        if ti not in used and bi not in pairs:
            pairs[bi] = ti
            used.add(ti)
    near = sorted((centre_distance(t.box, b), ti, bi) for ti, t in enumerate(tracks) for bi, b in enumerate(boxes))
    for dist, ti, bi in near:
        if dist > gates[ti]:
            continue
        if ti not in used and bi not in pairs:
            pairs[bi] = ti
            used.add(ti)
    return pairs


class Tracker:
    """`update(boxes, predictions)` -> FaceResults with track ids, smoothed probabilities and a stable label."""

    def __init__(self, tracking: TrackingConfig | None = None, smoothing: SmoothingConfig | None = None) -> None:
        self.tracking = tracking or TrackingConfig()
        self.smoothing = smoothing or SmoothingConfig()
        self._tracks: list[Track] = []
        self._next_id = 1
        self._last_timestamp: float | None = None  # of the previous update's frame

    def _new_track(self, box: Box) -> Track:
        track = Track(self._next_id, box)
        self._next_id += 1
        return track

    def reset(self) -> None:
        """Forget every track (after a change of source or frame size, or a gap in time, their boxes no longer
        match the faces); ids keep counting up, never reused."""
        self._tracks = []

    def boxes(self) -> list[Box]:
        """Boxes of live tracks (used on frames where detection is skipped)."""
        return [t.box for t in self._tracks if t.missed == 0]

    def update(self, boxes: list[Box], predictions: list[Prediction], timestamp: float | None = None,
               detected: bool = True) -> list[FaceResult]:
        """`timestamp`: the frame's time in seconds (without it the centre-distance gate stays per frame);
        `detected`: False when `boxes` were not detected but followed from the previous frame (detect_every > 1),
        which does not count as seeing the face again."""
        if not self.tracking.enabled:
            self._tracks = []
        frame_gap = None if timestamp is None or self._last_timestamp is None else timestamp - self._last_timestamp
        self._last_timestamp = timestamp
        gates = [centre_gate(track, timestamp, frame_gap, self.tracking) for track in self._tracks]
        pairs = match(self._tracks, boxes, self.tracking.iou_threshold, gates)
        seen: set[int] = set()
        results = []
        for bi, (box, pred) in enumerate(zip(boxes, predictions)):
            track = self._tracks[pairs[bi]] if bi in pairs else None
            if track is None:
                track = self._new_track(box)
                self._tracks.append(track)
            seen.add(track.track_id)
            track.box, track.missed = box, 0
            if detected or track.detected_at is None:
                track.detected_at = timestamp
            results.append(self._smooth(track, box, pred))
        survivors = []
        for track in self._tracks:
            if track.track_id not in seen:
                track.missed += 1
            if track.missed <= self.tracking.max_missed:
                survivors.append(track)
        self._tracks = survivors
        return results

    def _smooth(self, track: Track, box: Box, pred: Prediction) -> FaceResult:
        if self.smoothing.enabled and self.tracking.enabled:
            track.probs = ema(track.probs, pred.probs, self.smoothing.alpha)
            track.label = hysteresis_label(track.label, track.probs, pred.labels, self.smoothing.hysteresis)
        else:
            track.probs, track.label = pred.probs, pred.label
        return FaceResult(box=box, track_id=track.track_id, raw=pred, smoothed=Prediction(pred.labels, track.probs),
                          label=track.label)
