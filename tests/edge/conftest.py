"""Fixtures for the edge tests: shipped models, the fetched face model, a subprocess runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # importable however pytest is launched
    sys.path.insert(0, str(REPO))
EMOTION_MODEL = REPO / "models" / "emotion_int8.tflite"
FACE_MODEL = REPO / "models" / "face_detection_short_range.tflite"
# Override only for local development before a trained model exists; CI uses the shipped model.
MODEL_OVERRIDE_ENV = "EDGE_TEST_MODEL"


@pytest.fixture(scope="session")
def emotion_model() -> Path:
    path = Path(os.environ.get(MODEL_OVERRIDE_ENV) or EMOTION_MODEL)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        pytest.skip(f"shipped emotion model {path} (+ .json sidecar) absent: run `python -m convert` first")
    return path


@pytest.fixture(scope="session")
def face_model() -> Path:
    """The BlazeFace model; fetched with `python -m edge.fetch_detector` if missing (needs PyPI access)."""
    if not FACE_MODEL.is_file():
        from edge.errors import EdgeError
        from edge.fetch_detector import fetch

        try:
            fetch(FACE_MODEL)
        except EdgeError as exc:
            pytest.skip(f"face model {FACE_MODEL} absent and fetch failed: {exc.one_line()}")
    return FACE_MODEL


@pytest.fixture
def model_copy(emotion_model: Path, tmp_path: Path) -> Path:
    """A private copy of the emotion model and sidecar, safe to corrupt."""
    dest = tmp_path / "model" / emotion_model.name
    dest.parent.mkdir()
    shutil.copy(emotion_model, dest)
    shutil.copy(emotion_model.with_suffix(".json"), dest.with_suffix(".json"))
    return dest


def edge_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_edge(*args: str, cwd: Path | None = None, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    """`python -m edge ARGS` headless, from `cwd` (default: the repo)."""
    return subprocess.run([sys.executable, "-m", "edge", *args], cwd=cwd or REPO, env=edge_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]
