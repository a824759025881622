"""The log handler `python -m edge` (and train, convert) set up writes to whatever sys.stdout is when a line is
written. It used to hold the stdout of setup time: a command run in-process under a capture that later closed
(pytest's, or any caller's) turned every later log line in that process into a "--- Logging error ---" traceback
on stderr, as the full test suite showed."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from edge.cli_common import setup_logging
from tests.edge.helpers import REPO, edge_env

log = logging.getLogger(__name__)


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_lines_follow_stdout_after_the_stream_of_setup_time_closed(root_logging, monkeypatch, capsys) -> None:
    at_setup, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", at_setup)
    setup_logging()
    log.info("first line")
    monkeypatch.setattr(sys, "stdout", later)
    at_setup.close()
    log.info("second line")
    assert "second line" in later.getvalue()
    assert "Logging error" not in capsys.readouterr().err


def test_a_reader_that_went_away_still_silences_stdout_quietly(root_logging, monkeypatch, capsys) -> None:
    """The handler's BrokenPipeError path (`| head`) is unchanged: no traceback for the lost line."""

    class GoneReader(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError

    monkeypatch.setattr(sys, "stdout", GoneReader())
    setup_logging()
    log.info("nobody reads this")
    assert "Logging error" not in capsys.readouterr().err


def test_a_run_started_with_stdout_closed_logs_to_stderr_without_tracebacks() -> None:
    """`python -m edge ... >&-`: Python sets sys.stdout to None; the lines go to stderr, as logging's own
    StreamHandler(None) did before the handler followed sys.stdout (then: a "Logging error" per line)."""
    code = "import logging; from edge.cli_common import setup_logging; setup_logging(); logging.getLogger('x').info('hi')"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=edge_env(), stderr=subprocess.PIPE, text=True,
                          timeout=60, preexec_fn=lambda: os.close(1))  # the child starts with fd 1 closed
    assert done.returncode == 0, done.stderr
    assert "Logging error" not in done.stderr and "INFO x: hi" in done.stderr.replace("  ", " "), done.stderr
