"""The MJPEG encoder on its own, fed by hand: one encode per frame, a rate cap per client, keep-alive repeats."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np

from edge.types import Frame, FrameResult
from edge.web import stream
from edge.web.state import WebState
from edge.web.stream import StreamEncoder

STREAM_FPS = 20.0
QUALITY = 80
PARTS = 6
TIMER_SLACK = 0.9  # a timed wait may end a hair early
SAFETY_CLOSE_S = 10.0  # a stream that hangs is ended by closing the state, so a broken encoder fails, not hangs


def small_result(level: int) -> FrameResult:
    return FrameResult(Frame(np.full((48, 64, 3), level, np.uint8), timestamp=0.0, index=level, source="test"))


def encoder_with_a_frame() -> tuple[WebState, StreamEncoder, Iterator[bytes]]:
    state = WebState(window_s=60.0, bucket_s=10.0)
    state.update(small_result(0))
    encoder = StreamEncoder(state, STREAM_FPS, QUALITY)
    timer = threading.Timer(SAFETY_CLOSE_S, state.close)
    timer.daemon = True
    timer.start()
    return state, encoder, encoder.frames(encoder.try_acquire())


def test_a_frame_is_encoded_once_however_many_clients_watch(monkeypatch):
    calls = []
    real_encode = cv2.imencode
    monkeypatch.setattr(stream.cv2, "imencode", lambda *args: calls.append(1) or real_encode(*args))
    state, encoder, first = encoder_with_a_frame()
    second = encoder.frames(encoder.try_acquire())
    assert next(first) == next(second)
    assert len(calls) == 1
    state.close()


def test_each_client_gets_at_most_the_stream_rate():
    """The pipeline delivers frames faster than the stream's rate: a client is sent one per 1 / fps."""
    state, _, parts = encoder_with_a_frame()
    started = time.monotonic()
    for level in range(1, PARTS + 1):
        next(parts)
        state.update(small_result(level))  # a newer frame is always waiting
    assert time.monotonic() - started >= TIMER_SLACK * (PARTS - 1) / STREAM_FPS
    state.close()


def test_a_stalled_pipeline_still_sends_the_last_frame_now_and_then(monkeypatch):
    """No new frame: the last one is sent again every KEEPALIVE_S, so a viewer that left is found (its write
    fails) and its slot comes back."""
    monkeypatch.setattr(stream, "KEEPALIVE_S", 0.2)
    monkeypatch.setattr(stream, "WAIT_S", 0.05)
    state, _, parts = encoder_with_a_frame()
    first = next(parts)
    assert next(parts) == first  # no StopIteration: sent again before the safety close
    state.close()
