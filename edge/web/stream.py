"""MJPEG stream of the annotated frames, drawn and JPEG-encoded on the request threads, never on the pipeline's.

One encode per frame however many clients watch (cached by sequence number); nothing is encoded without a client;
each client gets at most `fps` frames per second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import cv2

from edge.sinks.overlay import draw_overlay
from edge.web.state import WebState

log = logging.getLogger(__name__)

BOUNDARY = "edgeframe"
MIMETYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
WAIT_S = 1.0  # how often a waiting client re-checks for shutdown
MAX_CLIENTS = 4  # concurrent streams (each holds a server thread)
KEEPALIVE_S = 5.0  # resend the last frame this often while no new one arrives (a write is how a gone client shows)


class StreamEncoder:
    def __init__(self, state: WebState, fps: float, quality: int) -> None:
        self.state, self.interval_s, self.quality = state, 1.0 / fps, quality
        self._lock = threading.Lock()
        self._cached: tuple[int, bytes] = (0, b"")
        self._clients = 0
        self._clients_lock = threading.Lock()

    def jpeg(self, sequence: int, result) -> bytes:
        """The annotated JPEG of frame `sequence` (encoded once, then served from the cache)."""
        with self._lock:
            if self._cached[0] != sequence:
                ok, data = cv2.imencode(".jpg", draw_overlay(result.frame.image, result),
                                        [cv2.IMWRITE_JPEG_QUALITY, self.quality])
                if not ok:
                    raise RuntimeError("JPEG encoding failed")
                self._cached = (sequence, data.tobytes())
            return self._cached[1]

    def try_acquire(self) -> bool:
        with self._clients_lock:
            if self._clients >= MAX_CLIENTS:
                return False
            self._clients += 1
            return True

    def release(self) -> None:
        with self._clients_lock:
            self._clients -= 1

    def frames(self) -> Iterator[bytes]:
        """Multipart parts until the server closes; the caller must have called try_acquire()."""
        sent, last_sent = 0, time.monotonic()
        try:
            while not self.state.closed.is_set():
                started = time.monotonic()
                sequence, result = self.state.wait_newer(sent, WAIT_S)
                if result is None or (sequence == sent and time.monotonic() - last_sent < KEEPALIVE_S):
                    continue
                data = self.jpeg(sequence, result)  # same frame again when the pipeline stalls: finds gone clients
                sent, last_sent = sequence, time.monotonic()
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n").encode() \
                    + data + b"\r\n"
                pause = self.interval_s - (time.monotonic() - started)
                if pause > 0:
                    self.state.closed.wait(pause)
        finally:
            self.release()
            log.debug("stream client left")
