"""Audit of edge/web/app.py through Flask's test client on the real app (real WebState, StreamEncoder and
PhotoService): headers on every kind of reply, asset types, health codes, the pages' settings, and errors."""

from __future__ import annotations

import io
import json
import logging
import re

import numpy as np
import pytest

from edge.sinks.overlay import LABEL_COLOURS, hex_colour
from edge.types import Frame, FrameResult
from tests.web.images import astronaut_jpeg

UPLOAD_LIMIT_MB = 2.5
EXPECTED_TYPES = {"app.css": "text/css", "chart.js": "text/javascript", "live.js": "text/javascript",
                  "photo.js": "text/javascript"}
SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_app(emotion_model):
    """`make_app(model=...)`: (test client, WebState, PhotoService, clock) of the real app, tokenless."""
    from edge.config import RunConfig
    from edge.web.app import create_app
    from edge.web.photo import PhotoService
    from edge.web.state import WebState
    from edge.web.stream import StreamEncoder

    made = []

    def make(model=emotion_model):  # noqa: ANN001, ANN202 - a Path; the parts of the app
        cfg = RunConfig.model_validate({"classifier": {"model": str(model)}, "detector": {"type": "haar"}})
        clock = Clock()
        state = WebState(cfg.web.stats_window_s, cfg.web.stats_bucket_s, clock=clock)
        photos = PhotoService(cfg)
        made.append((state, photos))
        encoder = StreamEncoder(state, cfg.web.stream_fps, cfg.web.jpeg_quality)
        app = create_app(state, encoder, photos, None, UPLOAD_LIMIT_MB)
        return app.test_client(), state, photos, clock

    try:
        yield make
    finally:
        for state, photos in made:
            photos.close()
            state.close()


def post_photo(client, data: bytes):  # noqa: ANN001, ANN201 - Flask test client and response
    return client.post("/api/photo", data={"photo": (io.BytesIO(data), "photo.jpg")},
                       content_type="multipart/form-data")


def test_every_reply_carries_the_security_headers_and_only_assets_are_cached(make_app):
    client, *_ = make_app()
    replies = {path: client.get(path) for path in ("/", "/photo", "/api/state", "/api/nothing", "/nothing",
                                                    "/static/live.js")}
    for path, reply in replies.items():
        for header, value in SECURITY.items():
            assert reply.headers.get(header) == value, (path, header)
        assert "default-src 'self'" in reply.headers["Content-Security-Policy"], path
        expected = "max-age=300" if path.startswith("/static/") else "no-store"
        assert reply.headers.get("Cache-Control") == expected, path
    assert replies["/api/nothing"].status_code == replies["/nothing"].status_code == 404


def test_assets_are_served_with_their_types(make_app):
    """With nosniff a browser runs a script only if it is served as one."""
    client, *_ = make_app()
    for name, mimetype in EXPECTED_TYPES.items():
        reply = client.get(f"/static/{name}")
        assert reply.status_code == 200 and reply.mimetype == mimetype, name


def test_health_is_503_until_the_first_frame_and_again_when_frames_stop(make_app):
    from edge.web.state import STALE_AFTER_S

    client, state, _, clock = make_app()
    starting = client.get("/api/health")
    assert starting.status_code == 503 and starting.get_json()["status"] == "starting"
    image = np.zeros((48, 64, 3), np.uint8)
    state.update(FrameResult(frame=Frame(image=image, timestamp=clock.now, index=0, source="test"), faces=[]))
    assert client.get("/api/health").status_code == 200
    clock.now += STALE_AFTER_S + 1
    stale = client.get("/api/health")
    assert stale.status_code == 503 and stale.get_json()["status"] == "stale"


def test_pages_carry_the_label_colours_the_upload_limit_and_mark_their_own_tab(make_app):
    client, *_ = make_app()
    live, photo = client.get("/").get_data(as_text=True), client.get("/photo").get_data(as_text=True)
    for page in (live, photo):
        colours = json.loads(re.search(r"data-colours='([^']*)'", page).group(1))
        assert colours == {name: hex_colour(bgr) for name, bgr in LABEL_COLOURS.items()}
    assert f"at most {UPLOAD_LIMIT_MB:.1f} MB" in photo
    assert '<a href="/" class="here">' in live and '<a href="/photo" class="here">' not in live
    assert '<a href="/photo" class="here">' in photo and '<a href="/" class="here">' not in photo


def test_a_missing_model_makes_uploads_503_and_says_so_in_the_log(make_app, tmp_path, caplog):
    missing = tmp_path / "gone.tflite"
    client, *_ = make_app(model=missing)
    with caplog.at_level(logging.WARNING, logger="edge.web.app"):
        reply = post_photo(client, astronaut_jpeg())
    assert reply.status_code == 503 and reply.get_json()["message"].startswith("classifier unavailable (")
    warnings = [r.getMessage() for r in caplog.records if r.name == "edge.web.app"]
    assert len(warnings) == 1 and warnings[0].startswith("photo upload: error: ") and "gone.tflite" in warnings[0]


def test_an_unexpected_failure_is_a_short_500_and_a_logged_traceback(make_app, monkeypatch, caplog):
    """A bug in a request (injected here) answers the usual JSON error, never Flask's page or a traceback."""
    client, _, photos, _ = make_app()

    def broken(_data: bytes) -> dict:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(photos, "analyse", broken)
    with caplog.at_level(logging.ERROR, logger="edge.web.app"):
        reply = post_photo(client, astronaut_jpeg())
    assert reply.status_code == 500 and reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.get_json() == {"error": "Internal Server Error", "message": "internal error (see the edge log)"}
    assert "simulated bug" not in reply.get_data(as_text=True)
    logged = [r for r in caplog.records if r.name == "edge.web.app"]
    assert [r.getMessage() for r in logged] == ["web request POST /api/photo failed"]
    assert logged[0].exc_info and "simulated bug" in str(logged[0].exc_info[1])
