"""Upload models that fail to load: every upload is a 503 (never a 500) until they load, and nothing leaks."""

from __future__ import annotations

import io

import pytest

from edge.errors import EdgeError
from tests.web.images import astronaut_jpeg

UPLOAD_LIMIT_MB = 8.0


@pytest.fixture
def photo_app(emotion_model):
    """The Flask app with its own PhotoService (haar detector), served by Flask's test client."""
    from edge.config import RunConfig
    from edge.web.app import create_app
    from edge.web.photo import PhotoService
    from edge.web.state import WebState
    from edge.web.stream import StreamEncoder

    cfg = RunConfig.model_validate({"classifier": {"model": str(emotion_model)}, "detector": {"type": "haar"}})
    state = WebState(cfg.web.stats_window_s, cfg.web.stats_bucket_s)
    photos = PhotoService(cfg)
    app = create_app(state, StreamEncoder(state, cfg.web.stream_fps, cfg.web.jpeg_quality), photos, None,
                     UPLOAD_LIMIT_MB)
    try:
        yield app.test_client(), photos
    finally:
        photos.close()
        state.close()


def post_photo(client, data: bytes):
    return client.post("/api/photo", data={"photo": (io.BytesIO(data), "photo.jpg")},
                       content_type="multipart/form-data")


def test_detector_failure_is_503_every_time_then_recovers(photo_app, monkeypatch):
    import edge.classifier
    import edge.detectors

    client, photos = photo_app
    closed: list[object] = []
    real_close = edge.classifier.EmotionClassifier.close

    def counting_close(self) -> None:
        closed.append(self)
        real_close(self)

    def broken_detector(_cfg):
        raise EdgeError("detector", "model file missing")

    monkeypatch.setattr(edge.classifier.EmotionClassifier, "close", counting_close)
    monkeypatch.setattr(edge.detectors, "make_detector", broken_detector)
    jpeg = astronaut_jpeg()
    for attempt in range(2):  # the second upload used to find a classifier without a detector: a 500
        reply = post_photo(client, jpeg)
        assert reply.status_code == 503, (attempt, reply.get_data(as_text=True))
        assert "model file missing" in reply.get_json()["message"]
    assert len(closed) == 2  # each half-loaded classifier was closed, not kept
    assert photos._classifier is None and photos._detector is None

    monkeypatch.undo()
    reply = post_photo(client, jpeg)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert len(reply.get_json()["faces"]) >= 1
