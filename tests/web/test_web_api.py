"""The web view served for real on a loopback port, fed by a real pipeline: JSON, stream, uploads, errors."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from tests.web.images import astronaut_jpeg, decode_data_url
from tests.web.webclient import read_mjpeg, request, upload

SLOT_WAIT_S = 30
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def test_health_and_state_json(view):
    health = request(view.url, "/api/health")
    assert health.status == 200
    body = health.json()
    assert body["status"] == "ok" and body["frames"] >= 1 and body["last_frame_age_s"] >= 0

    state = request(view.url, "/api/state").json()
    frame = state["frame"]
    assert frame["source"] == "demo" and (frame["width"], frame["height"]) == (640, 480)
    assert set(frame["stage_ms"]) >= {"detect", "classify", "track"}
    stats = state["stats"]
    assert stats["labels"] == LABELS  # learned from the model contract, in its order
    assert stats["faces"] >= 1 and stats["buckets"]
    assert abs(sum(stats["shares"].values()) - 1.0) < 1e-3
    bucket = stats["buckets"][-1]
    assert set(bucket["counts"]) == set(LABELS) and bucket["frames"] >= 1
    for face in state["faces"]:
        assert face["label"] in LABELS and len(face["box"]) == 4 and list(face["probs"]) == LABELS
        assert abs(sum(face["probs"].values()) - 1.0) < 1e-2
    assert request(view.url, "/api/state").json()["frame"]["sequence"] >= frame["sequence"]


def test_pages_and_assets_are_served_without_any_cdn(view):
    page = request(view.url, "/")
    assert page.status == 200 and page.headers.get_content_type() == "text/html"
    for needed in ('src="/stream.mjpg"', 'rel="icon" href="data:,"', 'id="shares"', "/static/chart.js", "/static/live.js"):
        assert needed in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    photo = request(view.url, "/photo")
    assert photo.status == 200 and 'type="file"' in photo.text
    script = request(view.url, "/static/chart.js")
    assert script.status == 200 and "drawShares" in script.text


def test_stream_delivers_decodable_jpeg_frames(view):
    frames = read_mjpeg(view.url, 3)
    images = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) for data in frames]
    assert all(image is not None and image.shape == (480, 640, 3) for image in images)
    assert not np.array_equal(images[0], images[-1])  # a live stream, not one still


def test_photo_upload_finds_the_astronaut_and_draws_charts(view):
    reply = upload(view.url, astronaut_jpeg(), filename="no-extension")
    assert reply.status == 200, reply.text
    result = reply.json()
    assert (result["width"], result["height"]) == (512, 512)
    assert decode_data_url(result["image"], "image/jpeg").shape == (512, 512, 3)
    assert len(result["faces"]) >= 1
    face = result["faces"][0]
    x1, y1, x2, y2 = face["box"]
    assert x1 < 225 < x2 and y1 < 130 < y2  # the astronaut's face is centred near (225, 130)
    assert face["label"] in LABELS and list(face["probs"]) == LABELS
    chart = decode_data_url(face["chart"], "image/png")
    assert chart.shape[0] > 100 and chart.shape[1] > 100


def test_photo_upload_png_is_accepted(view):
    ok, png = cv2.imencode(".png", np.full((64, 64, 3), 200, np.uint8))
    reply = upload(view.url, png.tobytes(), filename="grey.png")
    assert reply.status == 200 and reply.json()["faces"] == []


@pytest.mark.parametrize("data, filename, status, message", [
    (b"this is not an image at all", "photo.jpg", 415, "not a JPEG or PNG"),
    (b"", "photo.jpg", 400, "empty upload"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "photo.jpg", 415, ""),  # JPEG magic, garbage after it
])
def test_bad_uploads_get_a_clear_4xx(view, data, filename, status, message):
    reply = upload(view.url, data, filename=filename)
    assert reply.status == status
    body = reply.json()
    assert message in body["message"] and "Traceback" not in reply.text


def test_a_phone_jpeg_with_extra_pictures_is_accepted(view):
    """Phones save JPEGs with a depth or gain map appended (MPO to Pillow): the first picture is the photo."""
    import io

    from PIL import Image

    photo = Image.open(io.BytesIO(astronaut_jpeg()))
    buffer = io.BytesIO()
    photo.save(buffer, "MPO", save_all=True, append_images=[photo.resize((64, 64))])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    reply = upload(view.url, buffer.getvalue())
    assert reply.status == 200 and len(reply.json()["faces"]) == 1


def test_other_image_types_are_refused_by_content_not_name(view):
    ok, bmp = cv2.imencode(".bmp", np.zeros((8, 8, 3), np.uint8))
    reply = upload(view.url, bmp.tobytes(), filename="photo.png")
    assert reply.status == 415 and "BMP" in reply.json()["message"]


def test_oversized_upload_is_refused(view):
    reply = upload(view.url, b"\xff\xd8\xff" + b"x" * (1024 * 1024 + 10))  # limit is 1 MB in this fixture
    assert reply.status == 413
    assert "larger than 1 MB" in reply.json()["message"]


def test_missing_field_and_empty_body(view):
    empty = request(view.url, "/api/photo", "POST", b"", {"Content-Type": "multipart/form-data; boundary=x"})
    assert empty.status == 400 and "no file" in empty.json()["message"]
    wrong_field = upload(view.url, astronaut_jpeg(), field="image")
    assert wrong_field.status == 400


def test_errors_are_short_and_no_path_reaches_the_disk(view):
    for path in ("/static/../config.py", "/static/%2e%2e%2fapp.py", "/static/app.py", "/templates/index.html"):
        reply = request(view.url, path)
        assert reply.status == 404 and len(reply.body) < 300 and "Traceback" not in reply.text
    api = request(view.url, "/api/nothing")
    assert api.status == 404 and api.json()["error"] == "Not Found"
    wrong_method = request(view.url, "/api/photo")
    assert wrong_method.status == 405 and "message" in wrong_method.json()


def test_stream_viewers_are_limited_and_slots_come_back(view):
    from edge.web.stream import MAX_CLIENTS
    from tests.web.webclient import connect

    viewers = []  # (connection, response) pairs: the response owns the socket of a Connection: close
    try:  # stream, so both must stay referenced or the viewer silently disconnects and frees its slot
        for _ in range(MAX_CLIENTS):
            conn = connect(view.url)
            conn.request("GET", "/stream.mjpg")
            response = conn.getresponse()
            viewers.append((conn, response))
            assert response.status == 200
            response.readline()  # the stream is flowing
        assert stream_status(view.url) == 503
        refused = request(view.url, "/stream.mjpg")
        assert refused.status == 503 and "too many" in refused.text
    finally:
        for conn, response in viewers:
            response.close()
            conn.close()
    deadline = time.monotonic() + 60  # gone viewers are noticed at their next frame: a readiness wait
    while stream_status(view.url) != 200:
        assert time.monotonic() < deadline, "stream slots were not released"
        time.sleep(0.2)


def test_head_requests_do_not_use_up_stream_slots(view):
    from edge.web.stream import MAX_CLIENTS, MIMETYPE

    wait_for_stream(view.url, lambda: request(view.url, "/stream.mjpg", "HEAD").status == 200)
    head = request(view.url, "/stream.mjpg", "HEAD")  # the headers of the stream, no body: the stream never starts
    assert head.status == 200 and head.headers["Content-Type"] == MIMETYPE and head.body == b""
    for _ in range(2 * MAX_CLIENTS):
        request(view.url, "/stream.mjpg", "HEAD")
    wait_for_stream(view.url, lambda: stream_status(view.url) == 200)  # fails if the HEADs kept their slots
    assert len(read_mjpeg(view.url, 2)) == 2  # a viewer still gets the stream


def test_head_requests_whose_clients_reset_the_connection_hold_no_slot(view):
    """A client that closes with the reply unread resets the connection, and werkzeug then skips closing the
    reply's body: a HEAD that took a slot kept it, and four of them locked the stream out until a restart."""
    import socket
    from urllib.parse import urlsplit

    from edge.web.stream import MAX_CLIENTS

    wait_for_stream(view.url, lambda: stream_status(view.url) == 200)
    address = urlsplit(view.url)
    for _ in range(MAX_CLIENTS + 1):
        with socket.create_connection((address.hostname, address.port)) as client:
            client.sendall(f"HEAD /stream.mjpg HTTP/1.1\r\nHost: {address.netloc}\r\nConnection: close\r\n\r\n"
                           .encode())
            client.recv(15)  # part of the status line: the rest stays unread, so the close is a reset
    wait_for_stream(view.url, lambda: stream_status(view.url) == 200)
    assert len(read_mjpeg(view.url, 2)) == 2


def wait_for_stream(url: str, ready) -> None:
    """A slot comes back just after its reply (a gone GET viewer at its next frame): a readiness wait."""
    deadline = time.monotonic() + SLOT_WAIT_S
    while not ready():
        assert time.monotonic() < deadline, f"no stream slot free at {url} after {SLOT_WAIT_S} s"
        time.sleep(0.2)


def stream_status(url: str) -> int:
    from tests.web.webclient import connect

    conn = connect(url)
    try:
        conn.request("GET", "/stream.mjpg")
        return conn.getresponse().status
    finally:
        conn.close()


def test_an_image_whose_header_claims_billions_of_pixels_is_too_large_not_unknown(tmp_path):
    """PIL refuses such a header itself (a decompression bomb): that is a 413 saying so, not 'not a JPEG or PNG'."""
    from werkzeug.exceptions import RequestEntityTooLarge

    from edge.web.photo import decode_upload
    from tests.edge.test_media_inputs import write_oversized_png

    with pytest.raises(RequestEntityTooLarge, match="image too large"):
        decode_upload(write_oversized_png(tmp_path / "bomb.png").read_bytes())


PHOTO_OVER_THE_LIMIT = (8000, 6000)  # 48 megapixels: under PIL's bomb limit, over the view's 40


def test_a_photo_over_the_views_pixel_limit_is_refused_before_decoding(tmp_path):
    from werkzeug.exceptions import RequestEntityTooLarge

    from edge.web.photo import decode_upload
    from tests.edge.test_media_inputs import write_oversized_png

    data = write_oversized_png(tmp_path / "big.png", PHOTO_OVER_THE_LIMIT).read_bytes()
    with pytest.raises(RequestEntityTooLarge, match="image too large \\(8000x6000; at most 40 megapixels\\)"):
        decode_upload(data)


def test_a_photo_cut_short_after_its_header_is_refused_as_corrupt():
    from werkzeug.exceptions import UnsupportedMediaType

    from edge.web.photo import decode_upload

    ok, png = cv2.imencode(".png", np.full((64, 64, 3), 200, np.uint8))
    assert ok
    with pytest.raises(UnsupportedMediaType, match="the PNG data cannot be decoded"):
        decode_upload(png.tobytes()[:60])  # the header is whole, the pixels are not
