"""The Haar detector on a real face (skimage's public-domain astronaut) at the edges of its settings."""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from edge.detectors.haar import HaarDetector

SMALL_FACE_SCALE = 0.4  # the astronaut at 205x205: a 44 px tight face box, 46 px with haar's margin


def astronaut(scale: float = 1.0) -> np.ndarray:
    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale != 1.0 else image


def test_a_face_that_min_size_keeps_is_found():
    """min_size (40) applies to the box after the margin: a face whose box is 46 px must not be lost because the
    cascade was asked for tight boxes of min_size or more."""
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


def test_expand_box_shifts_by_the_boxs_height_then_grows_and_clips():
    from edge.detectors.base import expand_box
    from edge.types import Box

    box = Box(100, 100, 200, 300, 0.9)  # 100 wide, 200 high
    assert expand_box(box, 0.0, 640, 480, -0.1) == Box(100, 80, 200, 280, 0.9)  # up a tenth of its height
    assert expand_box(box, 0.1, 640, 480, 0.0) == Box(90, 80, 210, 320, 0.9)
    assert expand_box(box, 0.1, 640, 480, -0.1) == Box(90, 60, 210, 300, 0.9)
    assert expand_box(box, 0.1, 640, 310, 0.1) == Box(90, 100, 210, 310, 0.9)  # clipped at the frame's foot


def test_each_backend_frames_faces_its_own_way_unless_detector_margin_overrides_it(caplog):
    """haar's tight box is about FER-2013's crop, BlazeFace's smaller and lower (scripts/framing.py): each backend
    gets its own margin and shift from the config; `detector.margin` set overrides the margin of either."""
    from edge.config import DetectorConfig
    from edge.detectors import make_detector

    image = astronaut(SMALL_FACE_SCALE * 2)
    defaults = DetectorConfig()
    tight = make_detector(DetectorConfig(type="haar", margin=0.0, min_size=1)).detect(image)
    framed = make_detector(DetectorConfig(type="haar")).detect(image)
    assert len(tight) == len(framed) == 1
    grow = tight[0].width * defaults.haar.margin
    assert abs(framed[0].x1 - (tight[0].x1 - grow)) <= 1 and abs(framed[0].width - (tight[0].width + 2 * grow)) <= 2
    with caplog.at_level("INFO", logger="edge.detectors"):
        overridden = make_detector(DetectorConfig(type="haar", margin=0.25))
    assert overridden.margin == 0.25 and overridden.shift_y == defaults.haar.shift_y
    assert f"detector.margin 0.25 overrides this detector's measured {defaults.haar.margin:.2f}" in caplog.text
    shifted = make_detector(DetectorConfig(type="haar", margin=0.0, min_size=1, haar={"shift_y": -0.1})).detect(image)
    assert abs(shifted[0].y1 - (tight[0].y1 - 0.1 * tight[0].height)) <= 1 and shifted[0].x1 == tight[0].x1


def detect_once(cfg, image: np.ndarray) -> list:  # cfg: edge.config.DetectorConfig
    from edge.detectors import make_detector

    detector = make_detector(cfg)
    try:
        return detector.detect(image)
    finally:
        detector.close()


def test_blazeface_boxes_are_moved_up_and_grown_to_frame_the_face_as_fer_does(face_model):
    """BlazeFace's tight box sits low on the face (its centre 0.065 of a FER crop below the crop's): its default
    framing moves it up by mediapipe.shift_y of its height before the margin."""
    from edge.config import DetectorConfig

    image = astronaut()
    defaults = DetectorConfig().mediapipe
    tight_cfg = DetectorConfig(type="mediapipe", margin=0.0, min_size=1,
                               mediapipe={"model": face_model, "shift_y": 0.0})
    tight, framed = (detect_once(cfg, image)
                     for cfg in (tight_cfg, DetectorConfig(type="mediapipe", mediapipe={"model": face_model})))
    assert len(tight) == len(framed) == 1
    (t,), (f,) = tight, framed
    centre_up = (t.y1 + t.y2) / 2 - (f.y1 + f.y2) / 2
    assert abs(centre_up + defaults.shift_y * t.height) <= 1.5  # moved up by shift_y of the tight box's height
    assert abs(f.height - t.height * (1 + 2 * defaults.margin)) <= 2
