"""A Ctrl-C before an edge command's run has started (while `python -m edge` and the chosen command import their
modules, or while the models load) ends it as `python -m convert` does: one line on stderr, exit 130, no traceback.
Once the run has started, a Ctrl-C still stops it after the current frame, exit 0 (edge.commands.run).

The Ctrl-C is a real SIGINT sent as a chosen module is looked up (tests.train.interrupting)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.train.test_interrupts import stopped_at

INTERRUPTED = "interrupted: the command did not finish; run it again"
MAX_FRAMES = 30


def run_args(model: Path, out: Path) -> list[str]:
    return ["--source", "demo", "--max-frames", str(MAX_FRAMES), "--headless", "--model", str(model), "--out", str(out)]


def assert_no_traceback(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 130, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]


def assert_interrupted(result: subprocess.CompletedProcess) -> None:
    assert_no_traceback(result)
    assert result.stderr.strip().splitlines() == [INTERRUPTED], result.stderr[-3000:]


# edge.cli_common: edge.__main__'s own imports; edge.cli: main's; the rest: the run command's, before the models load
@pytest.mark.parametrize("module", ["edge.cli_common", "edge.cli", "edge.commands.run", "pydantic", "numpy", "cv2",
                                    "edge.web", "edge.classifier"])
def test_ctrl_c_while_a_run_imports_its_modules_is_one_line(emotion_model, tmp_path, module):
    result = stopped_at("SIGINT", f"import:{module}", "edge", *run_args(emotion_model, tmp_path / "out"))
    assert_interrupted(result)
    assert not (tmp_path / "out").exists()


def test_ctrl_c_while_the_models_load_is_one_line(emotion_model, tmp_path):
    """The face detector's modules import after the emotion model has loaded; LiteRT's own native log lines
    (`INFO: Created TensorFlow Lite XNNPACK delegate ...`) may come before the line."""
    result = stopped_at("SIGINT", "import:mediapipe", "edge", *run_args(emotion_model, tmp_path / "out"))
    assert_no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == INTERRUPTED and lines.count(INTERRUPTED) == 1, result.stderr[-3000:]


@pytest.mark.parametrize("module, command", [
    ("edge.commands.photo", ["photo", "face.png", "--model", "MODEL"]),
    ("edge.classifier", ["photo", "face.png", "--model", "MODEL"]),
    ("edge.service.command", ["service", "--check-config", "--model", "MODEL"]),
    ("edge.service.monitor", ["service", "--check-config", "--model", "MODEL"]),
    ("edge.report", ["report", "--db", "events.db", "--since", "all"]),
])
def test_ctrl_c_while_a_subcommand_imports_its_modules_is_one_line(emotion_model, tmp_path, module, command):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "face.png"), np.full((96, 96, 3), 128, np.uint8))
    paths = {"face.png": tmp_path / "face.png", "events.db": tmp_path / "events.db", "MODEL": emotion_model}
    assert_interrupted(stopped_at("SIGINT", f"import:{module}", "edge", *(str(paths.get(a, a)) for a in command)))


def test_ctrl_c_during_the_run_still_stops_after_the_current_frame(emotion_model, tmp_path):
    """Sent as the pipeline compares the 3rd frame with the 2nd: the run's own handler is in place by then. It
    hands the stop to a watcher thread (edge/stop_signals.py), which a loaded machine may schedule only after the
    3rd frame (4 ms here) is done and the next begun, so the run ends after the 3rd frame or soon after, never at
    --max-frames."""
    result = stopped_at("SIGINT", "call:edge.pipeline:scene_change:2", "edge", *run_args(emotion_model, tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "received SIGINT; stopping after the current frame" in result.stdout
    frames = re.search(r"summary: frames=(\d+)", result.stdout)
    assert frames and 3 <= int(frames[1]) < MAX_FRAMES, result.stdout[-3000:]
    assert "interrupted:" not in result.stderr and "Traceback" not in result.stderr
