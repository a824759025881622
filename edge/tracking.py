"""Face tracks with stable ids across frames (IoU matching, centre-distance fallback) and smoothing."""

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


@dataclass
class Track:
    track_id: int
    box: Box
    probs: np.ndarray | None = None
    label: str | None = None
    missed: int = 0


def match(tracks: list[Track], boxes: list[Box], iou_threshold: float, max_centre: float) -> dict[int, int]:
    """Greedy assignment box index -> track index, best IoU first, then nearest centre."""
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
        if dist > max_centre:
            break
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

    def update(self, boxes: list[Box], predictions: list[Prediction]) -> list[FaceResult]:
        if not self.tracking.enabled:
            self._tracks = []
        pairs = match(self._tracks, boxes, self.tracking.iou_threshold, self.tracking.centre_distance)
        seen: set[int] = set()
        results = []
        for bi, (box, pred) in enumerate(zip(boxes, predictions)):
            track = self._tracks[pairs[bi]] if bi in pairs else None
            if track is None:
                track = self._new_track(box)
                self._tracks.append(track)
            seen.add(track.track_id)
            track.box, track.missed = box, 0
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
