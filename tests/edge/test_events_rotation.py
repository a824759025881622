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


def write_lines(sink: JsonlEventSink, first: int, count: int) -> None:
    for index in range(first, first + count):
        sink.write(result(index))


def test_a_failed_rotation_writes_on_and_is_tried_again_after_another_max_mb(tmp_path, caplog):
    path = tmp_path / "events.jsonl"
    blocker = tmp_path / "events.jsonl.1"
    blocker.mkdir()
    (blocker / "x").write_text("a folder unlink cannot remove")
    sink = JsonlEventSink(path, interval_s=0.0, max_mb=TINY_MB, keep=1)
    with caplog.at_level(logging.WARNING):
        write_lines(sink, 0, 15)  # one failed rotation, at about ten lines
    assert len(lines(path)) == 15 and sink.events_failed == 0 and sink.rotations == 0
    assert sum("cannot rotate" in r.message for r in caplog.records) == 1
    (blocker / "x").unlink()
    blocker.rmdir()
    write_lines(sink, 15, 10)  # past another max_mb: rotated now
    sink.close()
    assert sink.rotations == 1
    assert [e["ts"] for e in lines(tmp_path / "events.jsonl.1") + lines(path)] == [1000.0 + i for i in range(25)]


def test_a_failed_reopen_after_rotating_loses_lines_but_not_the_run(tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    sink = JsonlEventSink(path, interval_s=0.0, max_mb=TINY_MB, keep=1)
    write_lines(sink, 0, 9)  # just under the limit
    real_open = JsonlEventSink._open
    failures = iter([OSError(28, "No space left on device")] * 3)

    def open_or_fail(self):
        error = next(failures, None)
        if error is not None:
            raise error
        real_open(self)

    monkeypatch.setattr(JsonlEventSink, "_open", open_or_fail)
    write_lines(sink, 9, 10)
    sink.close()
    assert sink.rotations == 1 and sink.events_failed == 3 and sink.events_written == 16
    before = [e["ts"] for e in lines(tmp_path / "events.jsonl.1")]
    after = [e["ts"] for e in lines(path)]
    assert after[0] == before[-1] + 4 and after[-1] == 1018.0  # the three lines right after the rotation are lost


def test_a_file_deleted_while_running_is_started_again(tmp_path, caplog):
    path = tmp_path / "events.jsonl"
    sink = JsonlEventSink(path, interval_s=0.0, max_mb=TINY_MB, keep=KEEP)
    write_lines(sink, 0, 5)
    path.unlink()  # an operator tidying up
    with caplog.at_level(logging.WARNING):
        write_lines(sink, 5, 30)
    sink.close()
    assert sum("deleted, renamed or replaced" in r.message for r in caplog.records) == 1
    kept = [e["ts"] for name in ("events.jsonl.2", "events.jsonl.1", "events.jsonl") for e in lines(tmp_path / name)]
    assert kept[-1] == 1034.0 and kept == sorted(kept) and sink.rotations >= 2  # rotation goes on afterwards


def test_a_lower_keep_removes_the_files_an_earlier_run_kept(tmp_path):
    path = tmp_path / "events.jsonl"
    for number in range(1, 6):
        (tmp_path / f"events.jsonl.{number}").write_text('{"old": 1}\n')
    (tmp_path / "events.jsonl.bak").write_text("someone else's")
    sink = JsonlEventSink(path, interval_s=0.0, max_mb=TINY_MB, keep=KEEP)
    write_lines(sink, 0, 15)
    sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl", "events.jsonl.1", "events.jsonl.2",
                                                          "events.jsonl.bak"]


def test_a_link_to_a_regular_file_is_never_rotated(tmp_path):
    target = tmp_path / "usb" / "events.jsonl"
    target.parent.mkdir()
    link = tmp_path / "events.jsonl"
    link.symlink_to(target)
    sink = JsonlEventSink(link, interval_s=0.0, max_mb=TINY_MB, keep=KEEP)
    write_lines(sink, 0, 50)
    sink.close()
    assert link.is_symlink() and len(lines(target)) == 50 and sink.rotations == 0


def test_a_tiny_limit_still_rotates(tmp_path):
    sink = JsonlEventSink(tmp_path / "events.jsonl", interval_s=0.0, max_mb=1e-9, keep=1)
    write_lines(sink, 0, 3)
    sink.close()
    assert sink.rotations == 2


def test_a_device_is_never_rotated(tmp_path):
    link = tmp_path / "events.jsonl"
    link.symlink_to("/dev/null")  # the link, not /dev/null, is what a wrong rename would move
    sink = JsonlEventSink(link, interval_s=0.0, max_mb=TINY_MB, keep=KEEP)
    for index in range(100):
        sink.write(result(index))
    sink.close()
    assert link.is_symlink() and sink.rotations == 0 and sink.events_written == 100
    assert not (tmp_path / "events.jsonl.1").exists()
