"""Typed value objects passed between the pipeline stages (source -> detector -> classifier -> tracker -> sinks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Box:
    """A face box in original-frame pixels, x2/y2 exclusive."""

    x1: int
    y1: int
    x2: int
    y2: int
    score: float = 1.0

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def as_list(self) -> list[int]:
        return [self.x1, self.y1, self.x2, self.y2]

    def clipped(self, width: int, height: int) -> Box:
        """This box cut to a width x height frame (empty, width or height <= 0, when it lies outside)."""
        return Box(max(0, self.x1), max(0, self.y1), min(width, self.x2), min(height, self.y2), self.score)


def boxes_in_frame(boxes: list[Box], shape: tuple[int, ...]) -> list[Box]:
    """`boxes` clipped to a frame of `shape` (numpy: height, width, ...), empty ones dropped (nothing to crop)."""
    height, width = shape[:2]
    clipped = (box.clipped(width, height) for box in boxes)
    return [box for box in clipped if box.width > 0 and box.height > 0]


@dataclass(frozen=True)
class Frame:
    """One captured BGR frame with its capture time (unix seconds) and sequence number."""

    image: np.ndarray
    timestamp: float
    index: int
    source: str = ""


@dataclass(frozen=True)
class Prediction:
    """Class probabilities for one face, in the label order of the model contract."""

    labels: tuple[str, ...]
    probs: np.ndarray

    @property
    def top_index(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def label(self) -> str:
        return self.labels[self.top_index]

    @property
    def confidence(self) -> float:
        return float(self.probs[self.top_index])

    def as_dict(self) -> dict[str, float]:
        return {name: round(float(p), 4) for name, p in zip(self.labels, self.probs)}


@dataclass
class FaceResult:
    """A tracked, classified face: the raw prediction of this frame and the smoothed one shown to users."""

    box: Box
    track_id: int
    raw: Prediction
    smoothed: Prediction
    label: str  # the label after hysteresis; may differ from smoothed.label while switching

    @property
    def confidence(self) -> float:
        return float(self.smoothed.probs[self.smoothed.labels.index(self.label)])


@dataclass
class FrameResult:
    """Everything the pipeline knows about one frame, handed to every sink."""

    frame: Frame
    faces: list[FaceResult] = field(default_factory=list)
    stage_ms: dict[str, float] = field(default_factory=dict)
    fps: float = 0.0


class FrameSource(Protocol):
    """Yields frames; `read` returns None at end of stream (or when a live source fails).

    Optional, read with getattr: `ended` (True: the None was the end of a file, not a failure) and `last_failure`
    (why the last read failed, for the one log line edge.sources.reconnect gives an outage)."""

    name: str

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class FaceDetector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> list[Box]: ...

    def close(self) -> None: ...


class Sink(Protocol):
    """Receives every processed frame. Sinks must be cheap: the pipeline calls them on its own thread.

    Optional hooks, with edge.sinks.BaseSink's defaults when a sink lacks them: `should_stop() -> bool`
    (True ends the run after this frame: a window's q/Esc), `describe() -> str` (where the output went, for the
    end-of-run summary; '' = nothing to say) and `waiting(why: str)` (before the first frame, the service waits
    for its camera: the web view says why)."""

    def write(self, result: FrameResult) -> None: ...

    def close(self) -> None: ...
