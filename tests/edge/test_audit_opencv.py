"""Audit of edge/sources/opencv.py on real OpenCV captures: a live MJPEG stream over HTTP, a camera that cannot
open, a stream that refuses connections, a video file this user may not read, and URIs shown without secrets."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from collections.abc import Iterator

import cv2
import pytest

from edge.config import SourceConfig
from edge.demo import make_demo_frames
from edge.errors import EdgeError, SourceUnavailable
from edge.sources import open_source

LIVE_SIZE = (160, 120)
BURST = 6  # frames sent before and after the pause
PAUSE_S = 1.0  # the camera stalls this long between the bursts
MIN_GAP_S = 0.5  # the stall as the frame stamps must show it (FFmpeg may buffer part of it)
BOUNDARY = b"frame"


class LiveMjpeg(http.server.BaseHTTPRequestHandler):
    """An IP camera's MJPEG stream (multipart/x-mixed-replace, no length, no end known): a burst of frames, a
    stall, another burst, then the connection drops."""

    jpegs: list[bytes] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
        self.end_headers()
        for index, jpeg in enumerate(self.jpegs * 2):
            if index == BURST:
                time.sleep(PAUSE_S)
            head = b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % (BOUNDARY, len(jpeg))
            self.wfile.write(head + jpeg + b"\r\n")
            self.wfile.flush()

    def log_message(self, *args) -> None:  # noqa: ANN002 - keep the test output quiet
        pass


@contextlib.contextmanager
def serving(handler: type[LiveMjpeg]) -> Iterator[str]:
    """A local MJPEG server playing the demo clip's first BURST frames through `handler`; its URL."""
    handler.jpegs = [cv2.imencode(".jpg", image)[1].tobytes() for image in make_demo_frames(BURST, size=LIVE_SIZE)]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/live.mjpg"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def live_stream():
    with serving(LiveMjpeg) as url:
        yield url


def test_a_live_stream_is_stamped_when_frames_arrive_and_a_drop_is_not_its_end(live_stream):
    """A live stream has no frame count: its frames carry their arrival time (a stalled camera shows as a gap, not
    as frames 1/fps apart), and a dropped connection is one to reopen, not the end of a file."""
    source = open_source(SourceConfig(uri=live_stream, reconnect=False))
    frames = list(iter(source.read, None))
    source.close()
    assert len(frames) == 2 * BURST
    assert source.finite is False and source.ended is False
    gap = frames[BURST].timestamp - frames[BURST - 1].timestamp
    assert gap >= MIN_GAP_S, [round(b.timestamp - a.timestamp, 3) for a, b in zip(frames, frames[1:])]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_camera_or_stream_that_cannot_open_is_unavailable_for_now_a_bad_video_is_not(tmp_path, monkeypatch):
    """The service waits for a live source that is not there yet (SourceUnavailable) but gives up at once on a
    file that cannot be decoded; camera index N is the device /dev/videoN when telling why it did not open."""
    import os

    from edge.sources import opencv

    devices = tmp_path / "video"
    device = tmp_path / "video57"
    device.write_bytes(b"")
    real_access = os.access
    monkeypatch.setattr(opencv, "CAMERA_DEVICE_PREFIX", str(devices))
    monkeypatch.setattr(opencv.os, "access", lambda path, mode: str(path) != str(device) and real_access(path, mode))
    with pytest.raises(SourceUnavailable) as camera:
        opencv.CaptureSource("57", "camera")
    assert f"Permission denied on {device}" in camera.value.problem
    with pytest.raises(SourceUnavailable, match="cannot open stream"):
        opencv.CaptureSource(f"http://127.0.0.1:{closed_port()}/live.mjpg", "stream")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    with pytest.raises(EdgeError, match="cannot open or decode video") as video:
        opencv.CaptureSource(str(broken), "video")
    assert not isinstance(video.value, SourceUnavailable)


def test_a_video_file_this_user_may_not_read_says_so(deny_access, tmp_path):
    """A 0600 video of another user: OpenCV alone would call it undecodable. (Tests run as root: deny_access.)"""
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, LIVE_SIZE)
    for image in make_demo_frames(2, size=LIVE_SIZE):
        writer.write(image)
    writer.release()
    deny_access(clip)
    with pytest.raises(EdgeError) as caught:
        open_source(SourceConfig(uri=str(clip)))
    assert caught.value.one_line() == f"error: source {clip}: cannot access (Permission denied)"


@pytest.mark.parametrize("uri, shown", [
    ("rtsp://admin:pw@cam/x#main", "rtsp://admin:***@cam/x#main"),  # only the password goes, not the fragment
    ("clip?pwd=1.mp4", "clip?pwd=1.mp4"),  # a file name, not a URL: shown as given
    ("folder/v?token=2.avi", "folder/v?token=2.avi"),
])
def test_shown_uri_changes_only_a_urls_secrets(uri, shown):
    from edge.sources.opencv import shown_uri

    assert shown_uri(uri) == shown
