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


def main_in_process(argv: list[str], monkeypatch, capsys) -> tuple[int, str]:  # noqa: ANN001 - pytest fixtures
    """edge.__main__.main(argv) in this process (so a test's monkeypatch reaches it), pytest's logging and signal
    handlers left alone, and the logger levels the command sets (apply_log_level: the root logger, QUIET_LOGGERS)
    restored for later tests: (exit code, stderr). An exception other than EdgeError propagates, as it would print
    a traceback."""
    import logging
    import signal

    import edge.__main__ as entry
    from edge.commands.options import QUIET_LOGGERS

    monkeypatch.setattr(entry, "setup_logging", lambda: None)
    monkeypatch.setattr(logging, "shutdown", lambda: None)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in QUIET_LOGGERS)]
    levels = [logger.level for logger in loggers]
    capsys.readouterr()
    try:
        code = entry.main(argv)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    return code, capsys.readouterr().err
