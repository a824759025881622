"""The Haar detector on a real face (skimage's public-domain astronaut) at the edges of its settings."""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from edge.detectors.haar import HaarDetector

SMALL_FACE_SCALE = 0.4  # the astronaut at 205x205: a 44 px tight face box, 54 px with the default margin


def astronaut(scale: float = 1.0) -> np.ndarray:
    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale != 1.0 else image


def test_a_face_that_min_size_keeps_is_found():
    """min_size (48) applies to the box after the margin: a face whose box is 54 px must not be lost because the
    cascade was asked for 48 px tight boxes."""
    detector = HaarDetector()
    boxes = detector.detect(astronaut(SMALL_FACE_SCALE))
    assert len(boxes) == 1
    box = boxes[0]
    assert min(box.width, box.height) >= detector.min_size
    assert 60 <= box.x1 + box.width / 2 <= 110 and 20 <= box.y1 + box.height / 2 <= 70  # on the face


def test_a_face_smaller_than_min_size_is_dropped():
    assert HaarDetector(min_size=80).detect(astronaut(SMALL_FACE_SCALE)) == []


def test_a_frame_of_extreme_aspect_ratio_is_not_an_error():
    detector = HaarDetector(detect_width=400)
    assert detector.detect(np.zeros((2, 3000, 3), np.uint8)) == []
    assert detector.detect(np.zeros((3000, 1, 3), np.uint8)) == []
