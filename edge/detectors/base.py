"""Shared detector behaviour: margin, clipping and minimum size, applied once for every backend."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from edge.config import DetectorConfig
from edge.types import Box

# Every backend's defaults are the config's (`detector.min_size`, `detector.haar.margin`, ...): one place to change
# them.
DETECTOR_DEFAULTS = DetectorConfig()


def expand_box(box: Box, margin: float, width: int, height: int, shift_y: float = 0.0) -> Box:
    """Move `box` down by `shift_y` of its height (negative: up), grow it by `margin` of its size on every side and
    clip it to the frame."""
    dx, dy = box.width * margin, box.height * margin
    shift = box.height * shift_y
    return Box(
        max(0, int(round(box.x1 - dx))),
        max(0, int(round(box.y1 - dy + shift))),
        min(width, int(round(box.x2 + dx))),
        min(height, int(round(box.y2 + dy + shift))),
        box.score,
    )


class BaseDetector(ABC):
    """Backends implement `_detect_raw` (tight boxes, frame pixels); `detect` shifts and grows them (each backend's
    own framing: its config's margin and shift_y) and clips."""

    name = "base"

    def __init__(self, margin: float, min_size: int = DETECTOR_DEFAULTS.min_size, shift_y: float = 0.0) -> None:
        self.margin = margin
        self.min_size = min_size
        self.shift_y = shift_y

    @abstractmethod
    def _detect_raw(self, image_bgr: np.ndarray) -> list[Box]: ...

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        height, width = image_bgr.shape[:2]
        boxes = [expand_box(b, self.margin, width, height, self.shift_y) for b in self._detect_raw(image_bgr)]
        return [b for b in boxes if min(b.width, b.height) >= self.min_size]

    def close(self) -> None:
        return None
