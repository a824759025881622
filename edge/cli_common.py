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
from pathlib import Path
from typing import IO, NoReturn

from edge.errors import EdgeError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
USAGE_THING = "command line"
JOURNAL_STREAM_ENV = "JOURNAL_STREAM"  # "device:inode" of the stream systemd connected to the journal
SYSLOG_ERR, SYSLOG_WARNING, SYSLOG_INFO, SYSLOG_DEBUG = 3, 4, 6, 7


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes (unknown flag, bad value, missing required flag) raise EdgeError("command line", ...),
    which the entry point prints as one line `error: command line: ...` and exits 2, like every other bad input,
    instead of argparse's multi-line usage block."""

    def error(self, message: str) -> NoReturn:
        raise EdgeError(USAGE_THING, f"{message} (see {self.prog} --help)")


def path_argument(text: str) -> Path:
    """argparse type of a path: not empty, `~` expanded. Path("") is the working folder, so `--out "$OUT"` with OUT
    unset would otherwise write a run, an export or a photo's figures into whatever folder the command was started
    from; and the shell leaves the tilde of `--out=~/x` alone, which would make a folder named ~."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path")
    return Path(text).expanduser()


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
    /dev/null and the run goes on quietly instead of printing a "--- Logging error ---" traceback per line.

    The stream is whatever `sys.stdout` is when a line is written (as logging's own last-resort handler does for
    stderr), not the object it was at setup: a command run in-process under a capture that has since closed (a
    test's) does not turn every later line into a "--- Logging error ---" traceback."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> IO:  # type: ignore[override] - logging.StreamHandler keeps an attribute
        return sys.stdout if sys.stdout is not None else sys.stderr  # None: started with stdout closed (`>&-`)

    @stream.setter
    def stream(self, _value: IO) -> None:  # StreamHandler.__init__ and setStream assign it: stdout it stays
        pass

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


def is_journal_stream(stream: IO) -> bool:
    """Whether `stream` is the journal stream systemd set up (StandardOutput=journal): $JOURNAL_STREAM names
    its device and inode, so a redirect inside the service (`... > file`) is told apart."""
    try:
        device, inode = (int(part) for part in os.environ.get(JOURNAL_STREAM_ENV, "").split(":"))
        status = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):  # unset or malformed, or no real file (a test's capture)
        return False
    return (status.st_dev, status.st_ino) == (device, inode)


def syslog_priority(levelno: int) -> int:
    if levelno >= logging.ERROR:
        return SYSLOG_ERR
    if levelno >= logging.WARNING:
        return SYSLOG_WARNING
    return SYSLOG_INFO if levelno >= logging.INFO else SYSLOG_DEBUG


def with_priority(text: str, priority: int) -> str:
    """Every line of `text` prefixed `<N>`, which journald reads as the line's priority (SyslogLevelPrefix=)."""
    return "\n".join(f"<{priority}>{line}" for line in text.split("\n"))


class JournalFormatter(logging.Formatter):
    """LOG_FORMAT lines with their syslog priority, so `journalctl -p err` (or `-p warning`) finds them."""

    def format(self, record: logging.LogRecord) -> str:
        return with_priority(super().format(record), syslog_priority(record.levelno))


def error_line(text: str) -> str:
    """A one-line error as printed on stderr: with the error priority when stderr is the journal."""
    return with_priority(text, SYSLOG_ERR) if is_journal_stream(sys.stderr) else text


def setup_logging(level: int = logging.INFO) -> None:
    """INFO and above to stdout, unbuffered (progress lines reach a log file or journald as they happen);
    stderr stays free for the one-line errors. Under systemd each line carries its priority."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(write_through=True)
    handler = StdoutHandler()
    journal = is_journal_stream(sys.stdout)
    handler.setFormatter(JournalFormatter(LOG_FORMAT) if journal else logging.Formatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
