"""The x86-vs-arm64 label comparer of tests/arm64/check.sh, on hand-made run folders (no emulation here)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.arm64.compare_labels import compare, main, read_run

PROBS = {"happy": 0.7, "sad": 0.2, "neutral": 0.1}
RUN_STAMP = "20261205T010000Z"  # as edge.sinks.crops names a run's crops


def make_run(folder: Path, faces: list[tuple[int, int, str]], probs: dict | None = None, shift: int = 0) -> Path:
    """faces: (frame, track, label) in frame order, as `python -m edge --interval 0 --save-crops` writes them."""
    (folder / "crops").mkdir(parents=True)
    lines = []
    for frame, track, label in faces:
        (folder / "crops" / f"{RUN_STAMP}_track{track}_{frame:06d}_{label}.jpg").write_bytes(b"")
        event = {"ts": 1000.0 + frame / 30, "track_id": track, "box": [10 + shift, 10, 60, 60], "label": label,
                 "confidence": 0.7, "probs": probs or PROBS, "source": "demo"}
        lines.append(json.dumps(event))
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
    return folder


FACES = [(0, 1, "happy"), (0, 2, "sad"), (1, 1, "happy"), (1, 2, "sad"), (3, 1, "neutral")]


def test_identical_runs_pass(tmp_path: Path) -> None:
    host, arm = make_run(tmp_path / "h", FACES), make_run(tmp_path / "a", FACES)
    summary = compare(read_run(host), read_run(arm))
    assert summary["ok"], summary
    assert summary["faces_compared"] == 5 and summary["frames_with_faces"] == 3 and summary["tracks_host"] == 2
    assert main([str(host), str(arm), "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["labels_equal"] == 5


def test_a_different_label_fails_and_is_named(tmp_path: Path, capsys) -> None:
    other = [(f, t, "angry" if (f, t) == (1, 2) else label) for f, t, label in FACES]
    host, arm = make_run(tmp_path / "h", FACES), make_run(tmp_path / "a", other)
    summary = compare(read_run(host), read_run(arm))
    assert not summary["ok"]
    assert summary["label_differences"] == [{"frame": 1, "track": 2, "host": "sad", "arm64": "angry"}]
    assert main([str(host), str(arm)]) == 1
    assert "frame 1 track 2: host sad, arm64 angry" in capsys.readouterr().out


def test_missing_face_probability_and_box_drift_fail(tmp_path: Path) -> None:
    host = read_run(make_run(tmp_path / "h", FACES))
    assert not compare(host, read_run(make_run(tmp_path / "a", FACES[:-1])))["ok"]
    drift = compare(host, read_run(make_run(tmp_path / "b", FACES, {"happy": 0.6, "sad": 0.3, "neutral": 0.1})))
    assert not drift["ok"] and drift["max_prob_diff"] == 0.1
    assert compare(host, read_run(make_run(tmp_path / "c", FACES, shift=2)))["ok"]
    assert not compare(host, read_run(make_run(tmp_path / "d", FACES, shift=9)))["ok"]


def test_unreadable_input_is_exit_2(tmp_path: Path, capsys) -> None:
    good = make_run(tmp_path / "h", FACES)
    assert main([str(tmp_path / "absent"), str(good)]) == 2
    assert "events.jsonl: missing" in capsys.readouterr().err
    smoothed = make_run(tmp_path / "s", FACES)
    (smoothed / "crops" / f"{RUN_STAMP}_track1_000000_happy.jpg").unlink()  # events with --interval > 0 would not pair up
    assert main([str(good), str(smoothed)]) == 2
    assert "crops and events disagree" in capsys.readouterr().err
