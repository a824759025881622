"""Finer stage timing than edge.pipeline records, without changing it: a timed classifier `preprocess`,
an overlay-drawing sink (what the window and video sinks do per frame) and a per-frame recorder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from edge.bench.spec import STAGES
from edge.sinks.base import BaseSink
from edge.sinks.overlay import draw_overlay
from edge.types import FrameResult


class PreprocessTimer:
    """Wraps `classifier.preprocess` (the crop/resize/quantise step of EmotionClassifier.classify)."""

    def __init__(self, classifier) -> None:  # classifier: edge.classifier.EmotionClassifier
        self._inner = classifier.preprocess
        self.pending_ms = 0.0
        classifier.preprocess = self

    def __call__(self, image_bgr, boxes):
        start = time.perf_counter()
        try:
            return self._inner(image_bgr, boxes)
        finally:
            self.pending_ms += (time.perf_counter() - start) * 1e3

    def take(self) -> float:
        ms, self.pending_ms = self.pending_ms, 0.0
        return ms


class DrawSink(BaseSink):
    """Draws the overlay like the window/video sinks do, then drops the image."""

    def write(self, result: FrameResult) -> None:
        draw_overlay(result.frame.image, result)


@dataclass
class FrameRecord:
    stage_ms: dict[str, float]  # the pipeline's own dict; its "sinks" entry is filled after the sinks ran
    decode_ms: float
    preprocess_ms: float
    faces: int


@dataclass
class Recorder(BaseSink):
    """Keeps per-frame timings (not frames) while `recording` is on."""

    source: object
    preprocess: PreprocessTimer
    recording: bool = False
    records: list[FrameRecord] = field(default_factory=list)

    def write(self, result: FrameResult) -> None:
        preprocess_ms = self.preprocess.take()
        if self.recording:
            self.records.append(FrameRecord(result.stage_ms, getattr(self.source, "last_decode_ms", 0.0),
                                            preprocess_ms, len(result.faces)))

    def stage_series(self) -> dict[str, list[float]]:
        """Per-frame ms of every benchmark stage; `classify` is the pipeline's classify minus preprocess."""
        series: dict[str, list[float]] = {s: [] for s in STAGES}
        for r in self.records:
            series["decode"].append(r.decode_ms)
            series["detect"].append(r.stage_ms["detect"])
            series["preprocess"].append(r.preprocess_ms)
            series["classify"].append(max(0.0, r.stage_ms["classify"] - r.preprocess_ms))
            series["track"].append(r.stage_ms["track"])
            series["draw"].append(r.stage_ms.get("sinks", 0.0))
        return series
