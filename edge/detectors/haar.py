"""OpenCV Haar cascade (frontal face), run on a downscaled, equalised grayscale frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.detectors.base import DETECTOR_DEFAULTS, BaseDetector
from edge.errors import EdgeError
from edge.types import Box

CASCADE_FILE = "haarcascade_frontalface_default.xml"
# Lower bound of detectMultiScale's minSize on the downscaled frame, so a small min_size times a strong downscale
# never asks for a degenerate size (the cascade's own 24x24 window is the smallest face it can report anyway).
MIN_SIZE_FLOOR_PX = 8
# detectMultiScale keeps a face only if min_neighbors windows matched it, some at smaller scales than the face: a
# minSize at the face's own size loses it (the astronaut's 44 px face needs minSize <= 34). Measured on a 400x300
# frame: minSize 31 costs 43 ms against 33 ms at 48, the price of finding every face that min_size keeps.
NEIGHBOUR_SCALE_SLACK = 0.8


def cascade_path() -> Path:
    data = getattr(cv2, "data", None)
    if data is None:
        raise EdgeError("haar cascade", "this OpenCV build has no cv2.data (install opencv-contrib-python>=4.8,<5)")
    return Path(data.haarcascades) / CASCADE_FILE


class HaarDetector(BaseDetector):
    name = "haar"

    def __init__(self, margin: float = DETECTOR_DEFAULTS.haar.margin, min_size: int = DETECTOR_DEFAULTS.min_size,
                 scale_factor: float = DETECTOR_DEFAULTS.haar.scale_factor,
                 min_neighbors: int = DETECTOR_DEFAULTS.haar.min_neighbors,
                 detect_width: int = DETECTOR_DEFAULTS.haar.detect_width,
                 equalize: bool = DETECTOR_DEFAULTS.haar.equalize,
                 shift_y: float = DETECTOR_DEFAULTS.haar.shift_y) -> None:
        super().__init__(margin, min_size, shift_y)
        path = cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise EdgeError(f"haar cascade {path}", "missing or unreadable (OpenCV 5 wheels no longer bundle cascades; use opencv-contrib-python<5)")
        self.scale_factor, self.min_neighbors, self.detect_width = scale_factor, min_neighbors, detect_width
        self.equalize = equalize

    def _detect_raw(self, image_bgr: np.ndarray) -> list[Box]:
        height, width = image_bgr.shape[:2]
        factor = min(1.0, self.detect_width / width) if self.detect_width > 0 else 1.0
        gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        if factor < 1.0:  # at least one pixel each way: a 3000x2 strip must not resize to zero rows
            gray = cv2.resize(gray, (max(1, round(width * factor)), max(1, round(height * factor))),
                              interpolation=cv2.INTER_AREA)
        if self.equalize:
            gray = cv2.equalizeHist(gray)
        # min_size applies after the margin (base.py), so the tight box the cascade reports may be that much
        # smaller; and the cascade only reports a face that windows a little smaller than it also matched
        tight_min = self.min_size / (1.0 + 2.0 * self.margin) * NEIGHBOUR_SCALE_SLACK
        min_px = max(MIN_SIZE_FLOOR_PX, int(tight_min * factor))
        found = self._cascade.detectMultiScale(gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                                               minSize=(min_px, min_px))
        inverse = 1.0 / factor
        return [Box(int(x * inverse), int(y * inverse), int((x + w) * inverse), int((y + h) * inverse)) for x, y, w, h in found]
