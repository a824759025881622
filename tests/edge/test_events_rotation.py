"""The events log rotates past output.events_max_mb, keeping output.events_keep older files, and never touches
what is not a regular file."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

from edge.sinks.events import BYTES_PER_MB, JsonlEventSink
from edge.types import Box, FaceResult, Frame, FrameResult, Prediction

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
TINY_MB = 2048 / BYTES_PER_MB  # about ten event lines per file
KEEP = 2
DEMO_FRAMES = 120
REPO = Path(__file__).resolve().parents[2]


def result(index: int, track_id: int = 1) -> FrameResult:
    probs = np.full(len(LABELS), 1 / len(LABELS), np.float32)
    pred = Prediction(LABELS, probs)
    face = FaceResult(box=Box(10, 10, 90, 90), track_id=track_id, raw=pred, smoothed=pred, label="happy")
    frame = Frame(image=np.zeros((100, 100, 3), np.uint8), timestamp=1000.0 + index, index=index, source="test")
    return FrameResult(frame=frame, faces=[face], stage_ms={}, fps=0.0)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_run_rotates_and_keeps_the_newest_lines_in_order(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "edge", "--source", "demo", "--headless", "--detector", "haar",
                           "--max-frames", str(DEMO_FRAMES), "--interval", "0", "--out", str(out),
                           "--output.events_max_mb", str(TINY_MB), "--output.events_keep", str(KEEP)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    files = sorted(out.glob("events.jsonl*"))
    assert [f.name for f in files] == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    for older in files[1:]:
        assert TINY_MB * BYTES_PER_MB <= older.stat().st_size < TINY_MB * BYTES_PER_MB + 1024  # one line over
    kept = lines(out / "events.jsonl.2") + lines(out / "events.jsonl.1") + lines(out / "events.jsonl")
    stamps = [event["ts"] for event in kept]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # contiguous, oldest file first
    summary = next(line for line in proc.stdout.splitlines() + proc.stderr.splitlines() if "events: /" in line)
    assert "rotated" in summary and f"{DEMO_FRAMES} lines" in summary  # every line was written before rotating


def test_a_file_already_over_the_limit_is_rotated_before_the_first_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"old": 1}\n' * 300)
    sink = JsonlEventSink(path, interval_s=0.0, max_mb=TINY_MB, keep=KEEP)
    sink.write(result(0))
    sink.close()
    assert len(lines(path)) == 1 and lines(path)[0]["ts"] == 1000.0
    assert len(lines(tmp_path / "events.jsonl.1")) == 300


def test_the_oldest_file_beyond_keep_is_removed(tmp_path):
    path = tmp_path / "events.jsonl"
    sink = JsonlEventSink(path, interval_s=0.0, max_mb=TINY_MB, keep=1)
    for index in range(100):
        sink.write(result(index))
    sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl", "events.jsonl.1"]
    assert sink.rotations > 2 and lines(path)[-1]["ts"] == 1099.0


def test_a_failed_rotation_keeps_writing_into_the_same_file(tmp_path, caplog):
    path = tmp_path / "events.jsonl"
    blocker = tmp_path / "events.jsonl.1"
    blocker.mkdir()
    (blocker / "x").write_text("not removable by unlink")
    sink = JsonlEventSink(path, interval_s=0.0, max_mb=TINY_MB, keep=1)
    with caplog.at_level(logging.WARNING):
        for index in range(50):
            sink.write(result(index))
    sink.close()
    assert len(lines(path)) == 50 and sink.events_failed == 0 and sink.rotations == 0
    assert [r.message for r in caplog.records].count(
        next(r.message for r in caplog.records if "cannot rotate" in r.message)) == 1


def test_a_device_is_never_rotated(tmp_path):
    link = tmp_path / "events.jsonl"
    link.symlink_to("/dev/null")  # the link, not /dev/null, is what a wrong rename would move
    sink = JsonlEventSink(link, interval_s=0.0, max_mb=TINY_MB, keep=KEEP)
    for index in range(100):
        sink.write(result(index))
    sink.close()
    assert link.is_symlink() and sink.rotations == 0 and sink.events_written == 100
    assert not (tmp_path / "events.jsonl.1").exists()
