"""Audit of edge/web/photo.py: an upload of a real photo with three faces, classified by the real models (Haar
and the shipped classifier), answered with its true size, every face, and the overlay drawn on the image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.demo import make_demo_frames
from edge.sinks.overlay import label_colour
from tests.web.images import decode_data_url

JPEG_TOLERANCE = 60  # the annotated image comes back as JPEG: a box edge keeps its colour roughly
EDGE_PROBE_PX = 2  # look this far inside the box's left edge (JPEG smears a 1-2 px line)


@pytest.fixture
def photos(emotion_model):
    from edge.config import RunConfig
    from edge.web.photo import PhotoService

    service = PhotoService(RunConfig.model_validate({"classifier": {"model": str(emotion_model)},
                                                     "detector": {"type": "haar"}}))
    try:
        yield service
    finally:
        service.close()


def test_an_upload_of_a_group_photo_answers_every_face_drawn_at_the_photos_size(photos):
    image = make_demo_frames(1, faces=3)[0]  # 640x480: not square, so width and height cannot be mixed up
    ok, png = cv2.imencode(".png", image)
    assert ok
    result = photos.analyse(png.tobytes())
    assert (result["width"], result["height"]) == (640, 480)
    assert len(result["faces"]) == 3
    annotated = decode_data_url(result["image"], "image/jpeg").astype(int)
    assert annotated.shape == image.shape
    for face in result["faces"]:
        x1, y1, _, y2 = face["box"]
        middle = annotated[(y1 + y2) // 2, x1:x1 + EDGE_PROBE_PX]
        distance = np.abs(middle - np.array(label_colour(face["label"]))).max(axis=1).min()
        assert distance <= JPEG_TOLERANCE, f"no {face['label']} box edge at x={x1}: {middle.tolist()}"


def test_the_models_load_on_the_first_upload_only(photos):
    ok, png = cv2.imencode(".png", np.full((60, 80, 3), 128, np.uint8))
    assert photos._classifier is None  # noqa: SLF001 - nothing loaded before an upload
    photos.analyse(png.tobytes())
    loaded = photos._detector, photos._classifier  # noqa: SLF001
    photos.analyse(png.tobytes())
    assert (photos._detector, photos._classifier) == loaded  # noqa: SLF001
    assert all(part is not None for part in loaded)
