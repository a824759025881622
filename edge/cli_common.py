"""What every command-line entry point shares (python -m edge, edge.bench, edge.fetch_detector, train, convert,
convert.evaluate): usage mistakes as one `error: command line: ...` line, and the log format on stdout.

Standard library only (plus edge.errors, itself standard library only), so the training side can import it
without the edge requirements installed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import NoReturn

from edge.errors import EdgeError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
USAGE_THING = "command line"


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes (unknown flag, bad value, missing required flag) raise EdgeError("command line", ...),
    which the entry point prints as one line `error: command line: ...` and exits 2, like every other bad input,
    instead of argparse's multi-line usage block."""

    def error(self, message: str) -> NoReturn:
        raise EdgeError(USAGE_THING, f"{message} (see {self.prog} --help)")


def non_negative_int(text: str) -> int:
    """argparse type of a seed: an integer >= 0 (numpy's generators refuse negative seeds with a traceback), so
    a bad one is a usage error, `error: command line: argument --seed: -1: must be 0 or positive`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: must be 0 or positive")
    return value


class StdoutHandler(logging.StreamHandler):
    """Log lines to stdout; when its reader goes away (`python -m edge ... | head`), stdout is pointed at
    /dev/null and the run goes on quietly instead of printing a "--- Logging error ---" traceback per line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if isinstance(sys.exc_info()[1], BrokenPipeError):
            silence_stdout()
            return
        super().handleError(record)


def silence_stdout() -> None:
    """Point stdout's file descriptor at /dev/null (its reader is gone): later writes and the exit flush succeed."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # stdout is not a real file here (a test's capture): nothing to redirect


def setup_logging(level: int = logging.INFO) -> None:
    """INFO and above to stdout, unbuffered (progress lines reach a log file or journald as they happen);
    stderr stays free for the one-line errors."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(write_through=True)
    handler = StdoutHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
