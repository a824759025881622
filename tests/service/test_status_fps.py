"""The status line's fps= (STATUS= every 5 s, the journal every 10 min) is the frames processed in the status
interval over the interval's elapsed time. It was a smoothed average of 1/frame-interval, which overshoots when
frames come unevenly (a camera at ~15 fps whose frames arrive in pairs showed fps=39.6 ... 85.9)."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import numpy as np
import pytest

import edge.pipeline
import edge.service.monitor
from edge.pipeline import Pipeline
from edge.service.monitor import STATUS_INTERVAL_S, ServiceMonitor, ServiceSink
from edge.service.notify import Notifier
from edge.service.thermal import ThermalProbe
from edge.types import Frame

TRUE_FPS = 15.0
PAIR_GAPS_S = (0.005, 2 / TRUE_FPS - 0.005)  # frames arrive in pairs: 5 ms apart, then a long gap; 15 fps on average
RUN_S = 60.0
FPS_TOLERANCE = 0.3  # a status line may count one frame more or less than whole pairs
FPS_FIELD = re.compile(r"\bfps=(\d+\.\d)\b")


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class UnevenCamera:
    """Delivers frames at PAIR_GAPS_S intervals of the fake clock for RUN_S, then ends."""

    name = "camera:uneven"

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.index, self.end = clock, 0, clock.now + RUN_S

    def read(self) -> Frame | None:
        self.clock.now += PAIR_GAPS_S[self.index % len(PAIR_GAPS_S)]
        if self.clock.now > self.end:
            return None
        self.index += 1
        return Frame(image=np.zeros((8, 8, 3), np.uint8), timestamp=self.clock.now, index=self.index,
                     source=self.name)

    def close(self) -> None:
        return None


class NoFaces:
    """Detector, classifier and tracker in one: finds nothing, costs nothing."""

    def detect(self, image: np.ndarray) -> list:
        return []

    def classify(self, image: np.ndarray, boxes: list) -> list:
        return []

    def update(self, boxes: list, predictions: list, timestamp: float, detected: bool) -> list:
        return []

    def reset(self) -> None:
        return None

    def boxes(self) -> list:
        return []

    def close(self) -> None:
        return None


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """The fake clock as time.monotonic of the pipeline and the service sink (perf_counter stays real)."""
    fake = FakeClock()
    fake_time = SimpleNamespace(monotonic=fake, perf_counter=time.perf_counter, time=time.time)
    monkeypatch.setattr(edge.pipeline, "time", fake_time)
    monkeypatch.setattr(edge.service.monitor, "time", fake_time)
    return fake


class RecordingNotifier(Notifier):
    """The notifier as systemd would see it, kept in a list (sent on no socket: a 60 s run in an instant)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def send(self, *fields: str) -> None:
        self.sent.extend(fields)


def statuses_of_a_run(clock: FakeClock, monkeypatch, tmp_path) -> list[str]:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = RecordingNotifier()
    monitor = ServiceMonitor(notifier, ThermalProbe(tmp_path / "none", tmp_path / "none", vcgencmd=None))
    stub = NoFaces()
    pipeline = Pipeline(UnevenCamera(clock), stub, stub, stub, [ServiceSink(monitor)])
    stats = pipeline.run()
    assert stats.frames == pytest.approx(RUN_S * TRUE_FPS, abs=2)
    return [field.removeprefix("STATUS=") for field in notifier.sent if field.startswith("STATUS=")]


def test_status_fps_is_frames_over_elapsed_time_with_uneven_frame_timing(clock, monkeypatch, tmp_path):
    statuses = statuses_of_a_run(clock, monkeypatch, tmp_path)
    shown = [float(FPS_FIELD.search(status).group(1)) for status in statuses]
    assert len(shown) == pytest.approx(RUN_S / STATUS_INTERVAL_S, abs=1), statuses
    assert shown[0] == 0.0  # READY=1's line, at the first frame: no interval yet
    assert all(abs(fps - TRUE_FPS) <= FPS_TOLERANCE for fps in shown[1:]), statuses


def test_the_interval_starts_afresh_when_frames_flow_again(clock, tmp_path, monkeypatch):
    """After a wait (camera lost), the first line has no interval yet; the next one counts from there."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monitor = ServiceMonitor(Notifier(), ThermalProbe(tmp_path / "none", tmp_path / "none", vcgencmd=None))
    lines = []
    monitor.line = lambda fps, faces, frames: lines.append(fps) or ""  # type: ignore[method-assign]
    sink, camera = ServiceSink(monitor), UnevenCamera(clock)
    camera.end = float("inf")
    result = SimpleNamespace(faces=[])

    def run_for(seconds: float) -> None:
        end = clock.now + seconds
        while clock.now < end:
            camera.read()
            sink.write(result)

    run_for(2 * STATUS_INTERVAL_S + 1)
    monitor.waiting = "camera lost (camera:uneven): reconnecting"
    clock.now += 600.0  # the outage
    run_for(STATUS_INTERVAL_S + 1)
    assert lines[0] == 0.0 and lines[3] == 0.0  # the first frame, and the first after the wait
    assert all(abs(fps - TRUE_FPS) <= FPS_TOLERANCE for fps in (lines[1], lines[2], lines[4])), lines
