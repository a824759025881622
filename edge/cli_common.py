"""What every command-line entry point shares (python -m edge, edge.bench, edge.fetch_detector, train, convert,
convert.evaluate): usage mistakes as one `error: command line: ...` line, and the log format on stdout.

Standard library only (plus edge.errors, itself standard library only), so the training side can import it
without the edge requirements installed.
"""

from __future__ import annotations

import argparse
import logging
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


def setup_logging(level: int = logging.INFO) -> None:
    """INFO and above to stdout, unbuffered (progress lines reach a log file or journald as they happen);
    stderr stays free for the one-line errors."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(write_through=True)
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stdout, force=True)
