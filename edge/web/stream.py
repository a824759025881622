"""MJPEG stream of the annotated frames, drawn and JPEG-encoded on the request threads, never on the pipeline's.

One encode per frame however many clients watch (cached by sequence number); nothing is encoded without a client;
each client gets at most `fps` frames per second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import cv2

from edge.sinks.overlay import draw_overlay
from edge.web.state import WebState

log = logging.getLogger(__name__)

BOUNDARY = "edgeframe"
MIMETYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
WAIT_S = 1.0  # how often a waiting client re-checks for shutdown
MAX_CLIENTS = 4  # concurrent streams (each holds a server thread)
KEEPALIVE_S = 5.0  # resend the last frame this often while no new one arrives (a write is how a gone client shows)


class StreamSlot:
    """One viewer's hold on a stream slot. `release()` may be called any number of times, from the stream's end and
    from the response's close (a HEAD request never starts the stream), and gives the slot back once."""

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back = give_back
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._give_back()


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

    def try_acquire(self) -> StreamSlot | None:
        """A slot for one viewer, or None when MAX_CLIENTS already watch."""
        with self._clients_lock:
            if self._clients >= MAX_CLIENTS:
                return None
            self._clients += 1
        return StreamSlot(self._give_back)

    def _give_back(self) -> None:
        with self._clients_lock:
            self._clients -= 1

    def frames(self, slot: StreamSlot) -> Iterator[bytes]:
        """Multipart parts until the server closes or the client leaves; then `slot` is released."""
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
            slot.release()
            log.debug("stream client left")
