"""The pipeline side of the web view: rolling statistics, and no drawing or encoding on the pipeline thread."""

from __future__ import annotations

import numpy as np

from edge.types import Box, FaceResult, Frame, FrameResult, Prediction
from edge.web import stream as stream_module
from edge.web.state import WebState
from edge.web.stream import StreamEncoder

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def result(index: int, *labels: str) -> FrameResult:
    faces = []
    for track, label in enumerate(labels, 1):
        probs = np.full(len(LABELS), 0.05, np.float32)
        probs[LABELS.index(label)] = 0.7
        prediction = Prediction(LABELS, probs)
        faces.append(FaceResult(Box(10, 10, 60, 60), track, prediction, prediction, label))
    return FrameResult(Frame(np.zeros((48, 64, 3), np.uint8), 0.0, index, "test"), faces, fps=25.0)


def test_shares_per_bucket_and_over_the_window():
    clock = FakeClock(1000.0)
    state = WebState(window_s=60, bucket_s=10, clock=clock)
    state.update(result(0, "happy", "sad"))
    state.update(result(1, "happy"))
    clock.now = 1012.0
    state.update(result(2))  # a frame without faces counts as a frame, not as a share
    state.update(result(3, "angry"))
    stats = state.snapshot()["stats"]
    assert stats["labels"] == list(LABELS)
    assert [b["frames"] for b in stats["buckets"]] == [2, 2]
    assert stats["buckets"][0]["shares"]["happy"] == round(2 / 3, 4)
    assert stats["buckets"][1]["counts"]["angry"] == 1
    assert stats["counts"] == {**dict.fromkeys(LABELS, 0), "happy": 2, "sad": 1, "angry": 1}
    assert stats["shares"]["happy"] == 0.5 and abs(sum(stats["shares"].values()) - 1) < 1e-6


def test_old_buckets_leave_the_window():
    clock = FakeClock(1000.0)
    state = WebState(window_s=60, bucket_s=10, clock=clock)
    state.update(result(0, "fear"))
    clock.now = 1075.0
    state.update(result(1, "happy"))
    stats = state.snapshot()["stats"]
    assert len(stats["buckets"]) == 1 and stats["counts"]["fear"] == 0 and stats["shares"]["happy"] == 1.0
    clock.now = 1200.0
    assert state.snapshot()["stats"]["buckets"] == []


def test_a_face_shows_its_shown_label_and_smoothed_probabilities():
    """As in the events log: the label after hysteresis with the smoothed probabilities, not the frame's raw ones."""
    raw = Prediction(LABELS, np.array([0.0, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0], np.float32))
    smoothed = Prediction(LABELS, np.array([0.05, 0.05, 0.05, 0.25, 0.5, 0.05, 0.05], np.float32))
    face = FaceResult(Box(1, 2, 33, 34), 5, raw, smoothed, "happy")  # kept by hysteresis while sad leads
    state = WebState(window_s=60, bucket_s=10, clock=FakeClock())
    state.update(FrameResult(Frame(np.zeros((48, 64, 3), np.uint8), 0.0, 0, "test"), [face]))
    assert state.snapshot()["faces"] == [{
        "track_id": 5, "box": [1, 2, 33, 34], "label": "happy", "confidence": 0.25,
        "probs": {"angry": 0.05, "disgust": 0.05, "fear": 0.05, "happy": 0.25, "sad": 0.5, "surprise": 0.05,
                  "neutral": 0.05}}]


def test_health_states():
    clock = FakeClock()
    state = WebState(60, 10, clock)
    assert state.health() == ({"status": "starting", "frames": 0, "uptime_s": 0.0, "last_frame_age_s": None}, False)
    state.update(result(0))
    assert state.health()[1] is True
    clock.now += 60
    body, healthy = state.health()
    assert body["status"] == "stale" and not healthy


def test_health_and_state_say_why_no_frame_came_until_the_first_one():
    state = WebState(60, 10, FakeClock())
    why = "waiting for source /dev/video0: cannot open camera (no such device or busy)"
    state.wait_for(why)
    body, healthy = state.health()
    assert (body["status"], body["waiting_for"], healthy) == ("waiting", why, False)
    assert state.snapshot()["waiting"] == why
    state.update(result(0))
    body, healthy = state.health()
    assert body["status"] == "ok" and "waiting_for" not in body and healthy
    assert state.snapshot()["waiting"] is None


def test_pipeline_thread_never_encodes_and_each_frame_is_encoded_once(monkeypatch):
    calls = []
    real = stream_module.cv2.imencode
    monkeypatch.setattr(stream_module.cv2, "imencode", lambda *a, **k: calls.append(1) or real(*a, **k))
    state = WebState(60, 10)
    encoder = StreamEncoder(state, fps=10, quality=80)
    for i in range(20):
        state.update(result(i, "happy"))  # what WebSink.write does
    assert calls == []  # no client, no work
    sequence, latest = state.wait_newer(0, 0)
    first = encoder.jpeg(sequence, latest)
    assert encoder.jpeg(sequence, latest) is first and len(calls) == 1  # shared by every client
    assert first[:2] == b"\xff\xd8"
