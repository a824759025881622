"""Fixtures for the web view tests: a real server on a loopback port, fed by a real pipeline on the demo clip."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-0123456789"
FEED_FPS = 30.0  # a looping demo plays in real time, like a camera, so the tests do not hog a core
FEED_FRAMES = 60


@dataclass
class View:
    url: str
    host: str
    port: int
    sink: object


def start_view(model: Path, **web) -> tuple[View, callable]:
    """WebSink + pipeline thread; returns the view and a stop function."""
    from edge.classifier import EmotionClassifier
    from edge.config import RunConfig
    from edge.detectors import make_detector
    from edge.pipeline import Pipeline
    from edge.sources.demo import DemoSource
    from edge.tracking import Tracker
    from edge.web.server import WebSink

    cfg = RunConfig.model_validate({"classifier": {"model": str(model)}, "web": {"enabled": True, "port": 0, **web}})
    sink = WebSink(cfg, cfg.web)
    feed = DemoSource(FEED_FRAMES, loop=True, fps=FEED_FPS)
    pipeline = Pipeline(feed, make_detector(cfg.detector), EmotionClassifier(model), Tracker(cfg.tracking, cfg.smoothing),
                        [sink])
    thread = threading.Thread(target=pipeline.run, name="test-pipeline", daemon=True)
    thread.start()

    def stop() -> None:
        pipeline.request_stop()
        thread.join()
        pipeline.close()

    return View(sink.url, cfg.web.host, sink.server.port, sink), stop


def wait_for_frames(view: View, frames: int = 5) -> None:
    """Wait until the pipeline has fed the sink (a readiness wait, not a timing assertion)."""
    deadline = time.monotonic() + 60
    while view.sink.state.sequence < frames:
        assert time.monotonic() < deadline, "the pipeline delivered no frames"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def view(emotion_model) -> Iterator[View]:
    """Open server on 127.0.0.1 (no token), small upload limit so the oversize test stays fast."""
    started, stop = start_view(emotion_model, max_upload_mb=1.0)
    try:
        wait_for_frames(started)
        yield started
    finally:
        stop()


@pytest.fixture(scope="module")
def guarded_view(emotion_model) -> Iterator[View]:
    """Bound to 127.0.0.2: not one of the tokenless loopback names, so a token is required."""
    started, stop = start_view(emotion_model, host="127.0.0.2", token=TOKEN)
    try:
        wait_for_frames(started)
        yield started
    finally:
        stop()
