"""The fps the overlay window and the web view show (FrameResult.fps) is 1 / the smoothed interval between frames.
It was a smoothed 1/interval, which overshoots when frames come unevenly: a 15 fps camera whose frames arrive in
pairs read 40-99 fps (the service's status line had the same fault, tests/service/test_status_fps.py)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

import edge.pipeline
from edge.pipeline import Pipeline
from edge.sinks.base import BaseSink
from tests.service.test_status_fps import TRUE_FPS, FakeClock, NoFaces, UnevenCamera

SETTLED_FRAMES = 100  # the smoothing's memory is about 10 frames
SWING_FPS = 2.0  # a smoothed interval still swings with the pairs: 13.8-16.5 fps around 15


class FpsRecorder(BaseSink):
    def __init__(self) -> None:
        self.seen: list[float] = []

    def write(self, result) -> None:  # noqa: ANN001 - FrameResult
        self.seen.append(result.fps)


@pytest.mark.parametrize("even", [False, True])
def test_the_shown_fps_is_the_cameras_rate_even_when_frames_come_in_pairs(monkeypatch, even):
    clock = FakeClock()
    monkeypatch.setattr(edge.pipeline, "time", SimpleNamespace(monotonic=clock, perf_counter=time.perf_counter,
                                                               time=time.time))
    camera, stub, recorder = UnevenCamera(clock), NoFaces(), FpsRecorder()
    if even:
        monkeypatch.setattr("tests.service.test_status_fps.PAIR_GAPS_S", (1 / TRUE_FPS,))
    Pipeline(camera, stub, stub, stub, [recorder]).run()
    settled = recorder.seen[SETTLED_FRAMES:]
    assert settled and max(abs(fps - TRUE_FPS) for fps in settled) < SWING_FPS, (min(settled), max(settled))
