"""The hints in edge error lines point at what really helps: the docs that explain training and conversion for
a missing emotion model, and a fetch_detector command that writes the face model where it is looked for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edge.config import DEFAULT_FACE_MODEL
from tests.edge.helpers import REPO, edge_env, error_lines, run_edge

FETCH = "python -m edge.fetch_detector"
HELP_TIMEOUT_S = 60


def test_missing_emotion_model_names_the_train_and_convert_docs(tmp_path: Path) -> None:
    missing = tmp_path / "none.tflite"
    done = run_edge("--source", "demo", "--max-frames", "1", "--model", str(missing), "--detector", "haar",
                    "--out", str(tmp_path / "o"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert error_lines(done.stderr) == [f"error: model {missing}: file not found (train and convert a model, "
                                        "see docs/TRAIN.md and docs/CONVERT.md)"]


def test_a_model_path_that_is_a_folder_says_so_not_file_not_found(tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    done = run_edge("--source", "demo", "--max-frames", "1", "--model", str(folder), "--detector", "haar",
                    "--out", str(tmp_path / "o"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert error_lines(done.stderr) == [f"error: model {folder}: is a folder; give the .tflite file (its .json "
                                        "sidecar beside it)"]


def test_missing_face_model_elsewhere_gets_a_fetch_command_with_dest(emotion_model: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.tflite"
    done = run_edge("--source", "demo", "--max-frames", "1", "--model", str(emotion_model), "--detector", "mediapipe",
                    "--detector.mediapipe.model", str(missing), "--out", str(tmp_path / "o"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert error_lines(done.stderr) == [f"error: face model {missing}: missing; run `{FETCH} --dest {missing}`"]


def test_auto_detector_falling_back_names_the_same_command(emotion_model: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.tflite"
    done = run_edge("--source", "demo", "--max-frames", "1", "--model", str(emotion_model),
                    "--detector.mediapipe.model", str(missing), "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"using haar because {missing} is missing (run `{FETCH} --dest {missing}` for mediapipe)" in done.stdout


def test_the_default_face_model_gets_the_plain_command(tmp_path: Path) -> None:
    from edge.fetch_detector import DEFAULT_DEST, fetch_command

    assert fetch_command(DEFAULT_FACE_MODEL) == FETCH  # as resolve_data_path leaves it when found nowhere
    assert fetch_command(DEFAULT_DEST) == FETCH
    assert fetch_command(tmp_path / "a b.tflite") == f"{FETCH} --dest '{tmp_path / 'a b.tflite'}'"


def test_fetch_detector_takes_dest() -> None:
    done = subprocess.run([sys.executable, "-m", "edge.fetch_detector", "--help"], cwd=REPO, env=edge_env(),
                          capture_output=True, text=True, timeout=HELP_TIMEOUT_S)
    assert done.returncode == 0 and "--dest DEST" in done.stdout, done.stdout + done.stderr
