"""The one per-track throttle of the events log, the store and the crops: interval, pruning, failed crop writes."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from edge.sinks.events import PRUNE_AFTER_TRACKS, EventThrottle
from edge.types import Box, FaceResult, Frame, FrameResult, Prediction

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
BASE_TS = 1_750_000_000.0
IMAGE_SIZE = 64


def result(ts: float, *track_ids: int, index: int = 0) -> FrameResult:
    prediction = Prediction(LABELS, np.full(len(LABELS), 1 / len(LABELS), np.float32))
    faces = [FaceResult(Box(0, 0, 32, 32), track, prediction, prediction, "happy") for track in track_ids]
    image = np.full((IMAGE_SIZE, IMAGE_SIZE, 3), 128, np.uint8)
    return FrameResult(Frame(image, timestamp=ts, index=index, source="test"), faces)


def due_ids(throttle: EventThrottle, frame: FrameResult) -> list[int]:
    return [face.track_id for face in throttle.due(frame)]


def test_one_output_per_track_per_interval():
    throttle = EventThrottle(1.0)
    assert due_ids(throttle, result(BASE_TS, 1, 2)) == [1, 2]
    assert due_ids(throttle, result(BASE_TS + 0.5, 1, 2, 3)) == [3]
    assert due_ids(throttle, result(BASE_TS + 1.0, 1, 2, 3)) == [1, 2]
    assert due_ids(throttle, result(BASE_TS + 1.0, 4, 4)) == [4]  # one per track even within a frame
    assert due_ids(EventThrottle(0.0), result(BASE_TS, 1)) == [1]


def test_stamps_an_interval_apart_but_for_rounding_count_as_an_interval():
    """Frames 0 and 30 of a 30 fps clip are stamped 1 s apart, give or take the rounding of a 1.8e9 s stamp:
    the second is due, or which frames a clip logs would depend on that rounding."""
    throttle, start = EventThrottle(1.0), 1_796_525_253.775
    throttle.due(result(start, 1))
    assert due_ids(throttle, result(start + 0.99, 1)) == []
    assert due_ids(throttle, result(start + 1.0 - 3e-7, 1)) == [1]


def test_a_clock_set_back_does_not_silence_a_track():
    throttle = EventThrottle(10.0)
    throttle.due(result(BASE_TS, 1))
    assert due_ids(throttle, result(BASE_TS - 3600, 1)) == [1]


def test_months_of_passing_faces_stay_bounded_and_throttled():
    throttle = EventThrottle(1.0)
    for track in range(1, 20 * PRUNE_AFTER_TRACKS):  # one new face per 2 s, each seen once
        assert due_ids(throttle, result(BASE_TS + 2.0 * track, track)) == [track]
    assert throttle.remembered <= PRUNE_AFTER_TRACKS + 1
    now = BASE_TS + 40.0 * PRUNE_AFTER_TRACKS
    throttle.due(result(now, 7))
    for track in range(1000, 1000 + 2 * PRUNE_AFTER_TRACKS):  # many faces at once: those within the interval
        throttle.due(result(now + 0.5, track))                  # survive pruning, so they stay throttled
    assert due_ids(throttle, result(now + 0.6, 7, 1000)) == []
    assert due_ids(throttle, result(now + 1.0, 7)) == [7]


STAMP_TOLERANCE_S = 1e-6


def test_an_event_is_the_shown_label_with_the_smoothed_probabilities():
    """The contract event (docs/CONTRACTS.md): the label shown after hysteresis, its smoothed confidence and the
    smoothed probabilities, not the frame's raw ones; the time to the millisecond."""
    from edge.sinks.events import face_event

    raw = Prediction(LABELS, np.array([0.0, 0.0, 0.0, 0.9, 0.1, 0.0, 0.0], np.float32))
    smoothed = Prediction(LABELS, np.array([0.05, 0.05, 0.05, 0.25, 0.5, 0.05, 0.05], np.float32))
    face = FaceResult(Box(1, 2, 33, 34), 5, raw, smoothed, "happy")  # kept by hysteresis while sad leads
    event = face_event(face, BASE_TS + 0.1234, "cam")
    assert event["ts"] == pytest.approx(BASE_TS + 0.123, abs=STAMP_TOLERANCE_S)
    assert {key: value for key, value in event.items() if key != "ts"} == {
        "track_id": 5, "box": [1, 2, 33, 34], "label": "happy", "confidence": 0.25, "source": "cam",
        "probs": {"angry": 0.05, "disgust": 0.05, "fear": 0.05, "happy": 0.25, "sad": 0.5, "surprise": 0.05,
                  "neutral": 0.05}}


def test_crop_sink_counts_only_written_crops(tmp_path, monkeypatch, caplog):
    import edge.sinks.crops as crops

    sink = crops.CropSink(tmp_path / "crops", interval_s=0.0)
    monkeypatch.setattr(crops.cv2, "imwrite", lambda *_: False)  # e.g. the disk is full
    with caplog.at_level(logging.DEBUG, logger=crops.__name__):
        for index in range(3):
            sink.write(result(BASE_TS + index, 1, index=index))
    assert (sink.written, sink.failed) == (0, 3)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot write" in warnings[0].getMessage()
    assert "3 failed" in sink.describe()
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger=crops.__name__):
        sink.write(result(BASE_TS + 3, 1, index=3))
    assert (sink.written, sink.failed) == (1, 3)
    assert [p.name for p in (tmp_path / "crops").iterdir()] == [f"{sink.run_stamp}_track1_000003_happy.jpg"]
    assert any("writing again" in r.getMessage() and "(3 crops failed)" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(crops.cv2, "imwrite", lambda *_: False)  # full again: a new run of failures warns again
    sink.write(result(BASE_TS + 4, 1, index=4))
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


def test_a_crop_opencv_cannot_encode_is_counted_not_raised(tmp_path):
    """A box with no pixels left inside the frame makes cv2.imwrite raise: counted as failed, the run goes on."""
    import edge.sinks.crops as crops

    sink = crops.CropSink(tmp_path / "crops", interval_s=0.0)
    empty = result(BASE_TS, 1)
    empty.faces[0] = FaceResult(Box(IMAGE_SIZE, 0, IMAGE_SIZE, 32), 1, empty.faces[0].raw, empty.faces[0].smoothed,
                                "happy")
    sink.write(empty)
    sink.write(result(BASE_TS + 1, 2, index=1))
    assert (sink.written, sink.failed) == (1, 1)


def test_crops_without_tracking_are_throttled_per_frame(tmp_path):
    """Tracking off (new ids every frame): `python -m edge --save-crops` passes that on, one frame's faces per
    interval are written, not every face of every frame."""
    from edge.commands.run import build_sinks
    from edge.config import RunConfig
    from edge.sinks.crops import CropSink

    cfg = RunConfig.model_validate({"tracking": {"enabled": False}, "output": {
        "dir": str(tmp_path), "events": False, "save_crops": True, "interval_s": 1.0}})
    sinks = build_sinks(cfg, window=False)
    [sink] = [sink for sink in sinks if isinstance(sink, CropSink)]
    for index in range(4):  # 4 frames 0.25 s apart, each with two faces of new ids
        sink.write(result(BASE_TS + 0.25 * index, 2 * index + 1, 2 * index + 2, index=index))
    for each in sinks:
        each.close()
    assert sink.written == 2


def test_a_second_run_keeps_the_first_runs_crops(tmp_path, monkeypatch):
    """Track ids and frame numbers restart with every run: the run's start time keeps the names apart."""
    import edge.sinks.crops as crops

    real_gmtime = time.gmtime
    for start in (BASE_TS, BASE_TS + 60):
        monkeypatch.setattr(crops.time, "gmtime", lambda *_, start=start: real_gmtime(start))
        crops.CropSink(tmp_path / "crops", interval_s=0.0).write(result(BASE_TS, 1, index=0))
    assert len(list((tmp_path / "crops").iterdir())) == 2


def test_crop_sink_prunes_its_tracks(tmp_path):
    from edge.sinks.crops import CropSink

    sink = CropSink(tmp_path / "crops", interval_s=1.0)
    for track in range(1, 3 * PRUNE_AFTER_TRACKS):
        sink.write(result(BASE_TS + 2.0 * track, track, index=track))
    assert sink._throttle.remembered <= PRUNE_AFTER_TRACKS + 1
    assert sink.written == 3 * PRUNE_AFTER_TRACKS - 1


def test_without_tracking_one_output_per_face_per_interval():
    throttle = EventThrottle(1.0, by_track=False)
    frames = [result(BASE_TS + 0.25 * i, 2 * i + 1, 2 * i + 2, index=i) for i in range(9)]  # new ids every frame
    let_through = [due_ids(throttle, frame) for frame in frames]
    assert let_through == [[1, 2], [], [], [], [9, 10], [], [], [], [17, 18]]  # both faces, once a second
    assert due_ids(throttle, result(BASE_TS + 2.5)) == []  # a frame without faces does not use up the interval
    assert due_ids(throttle, result(BASE_TS + 3.0, 40)) == [40]


def test_tracking_off_throttles_the_events_log(emotion_model, tmp_path):
    import json

    from tests.edge.helpers import run_edge

    done = run_edge("--source", "demo", "--source.demo_faces", "2", "--max-frames", "30", "--model",
                    str(emotion_model), "--detector", "haar", "--tracking.enabled", "false", "--interval", "3600",
                    "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and len({line["ts"] for line in lines}) == 1  # the two faces of the first frame


class FullDisk:
    """Stands in for the events file while the disk is full: every write fails with ENOSPC."""

    def write(self, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        return None


class ShortWrites:
    """Writes only the first half of each line to `target` (a disk that fills up mid-line)."""

    def __init__(self, target) -> None:
        self.target = target

    def write(self, data: bytes) -> int:
        return self.target.write(data[:len(data) // 2])


def test_events_log_write_failures_are_counted_and_the_run_goes_on(tmp_path, caplog):
    import json

    from edge.sinks.events import JsonlEventSink

    sink = JsonlEventSink(tmp_path / "events.jsonl", interval_s=0.0)
    real_file = sink._file  # noqa: SLF001 - swapped for a full disk, then back
    sink.write(result(BASE_TS, 1))
    with caplog.at_level(logging.INFO, logger="edge.sinks.events"):
        sink._file = FullDisk()  # noqa: SLF001
        for index in range(1, 4):
            sink.write(result(BASE_TS + index, 1, index=index))
        sink._file = ShortWrites(real_file)  # noqa: SLF001
        sink.write(result(BASE_TS + 4, 1, index=4))
        sink._file = real_file  # noqa: SLF001 - space again
        sink.write(result(BASE_TS + 5, 1, index=5))
    sink.close()
    assert (sink.events_written, sink.events_failed) == (2, 4)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    assert any("writing again (4 lines lost)" in r.getMessage() for r in caplog.records)
    assert "(2 lines, 4 not written: short write (disk full?))" in sink.describe()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert [json.loads(lines[i])["ts"] for i in (0, 2)] == [BASE_TS, BASE_TS + 5]  # the cut line stands alone


def test_a_line_cut_short_at_the_end_of_a_run_is_ended_for_the_next_run(tmp_path):
    import json

    from edge.sinks.events import JsonlEventSink

    log_path = tmp_path / "events.jsonl"
    sink = JsonlEventSink(log_path, interval_s=0.0)
    sink.write(result(BASE_TS, 1))
    real_file = sink._file  # noqa: SLF001 - the disk fills during the last line, then the run ends
    sink._file = ShortWrites(real_file)  # noqa: SLF001
    sink.write(result(BASE_TS + 1, 1, index=1))
    sink._file = real_file  # noqa: SLF001
    sink.close()
    assert log_path.read_bytes().endswith(b"\n")  # close ended the cut line
    log_path.write_bytes(log_path.read_bytes().rstrip(b"\n"))  # as if killed before close: no newline at the end
    again = JsonlEventSink(log_path, interval_s=0.0)  # the next run (or the restarted service)
    again.write(result(BASE_TS + 2, 1, index=2))
    again.close()
    lines = log_path.read_text().splitlines()
    assert len(lines) == 3 and [json.loads(lines[i])["ts"] for i in (0, 2)] == [BASE_TS, BASE_TS + 2]


def test_a_full_disk_does_not_end_the_run(emotion_model, tmp_path):
    from pathlib import Path

    from tests.edge.helpers import run_edge

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    done = run_edge("--source", "demo", "--max-frames", "5", "--interval", "0", "--model", str(emotion_model),
                    "--detector", "haar", "--out", "/dev", "--output.events_file", "full", cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "summary: frames=5" in done.stdout
    assert "results: events: /dev/full (0 lines, 5 not written: No space left on device)" in done.stdout
