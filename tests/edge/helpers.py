"""Helpers shared by the edge tests: paths and a `python -m edge` subprocess runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FACE_MODEL = REPO / "models" / "face_detection_short_range.tflite"


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
