"""Fixtures for the edge tests: shipped models, the fetched face model."""

from __future__ import annotations

import platform
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.edge.helpers import FACE_MODEL, REPO, edge_env

# Machines whose mediapipe wheels always load: there every mediapipe failure is a real one and fails the tests.
ALWAYS_SUPPORTED_MACHINES = ("x86_64", "amd64")
# Elsewhere, import MediaPipe Tasks in a child process the way edge/detectors/blazeface.py does (a SIGILL there
# must not take pytest down).
MEDIAPIPE_TASKS_PROBE = """
from edge.no_tensorflow import mediapipe_import
with mediapipe_import():
    from mediapipe.tasks.python import vision
"""
PROBE_TIMEOUT_S = 300  # a cold import on a Pi 3 takes tens of seconds


def mediapipe_platform_limitation() -> str | None:
    """Why this platform cannot run the MediaPipe face detector (known limitations only), or None.

    Known: mediapipe 1.x on an arm64 CPU without ARMv8.1 atomics (edge/detectors/cpu.py; scripts/_venv.sh
    installs mediapipe<1 there), and, off x86_64, MediaPipe Tasks that cannot be imported or die with SIGILL.
    Anything else, and every failure on x86_64, is left to fail the test that uses the detector.
    """
    from edge.detectors.cpu import mediapipe_unsupported_reason

    reason = mediapipe_unsupported_reason()
    if reason:
        return reason
    machine = platform.machine()
    if machine.lower() in ALWAYS_SUPPORTED_MACHINES:
        return None
    probe = subprocess.run([sys.executable, "-c", MEDIAPIPE_TASKS_PROBE], cwd=REPO, env=edge_env(),
                           capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    if probe.returncode == -signal.SIGILL:
        return f"importing mediapipe.tasks kills the process with SIGILL on this {machine} CPU"
    if probe.returncode != 0 and ("ImportError" in probe.stderr or "ModuleNotFoundError" in probe.stderr):
        last = (probe.stderr.strip().splitlines() or ["ImportError"])[-1]
        return f"mediapipe.tasks is not importable on {machine}: {last}"
    return None


@pytest.fixture(scope="session")
def face_model() -> Path:
    """The BlazeFace model; fetched with `python -m edge.fetch_detector` if missing (needs PyPI access).

    Skipped, with the reason, where the installed mediapipe cannot run on this platform (see above)."""
    limitation = mediapipe_platform_limitation()
    if limitation:
        pytest.skip(f"MediaPipe face detector unavailable on this platform: {limitation}")
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
