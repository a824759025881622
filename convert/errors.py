"""User-facing failures of the conversion stage, printed as one line `error: <path>: <problem>`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from edge.errors import EdgeError
from train.data import DataError

EXIT_BAD_INPUT = 2
EXIT_QUALITY_GATE = 3


class ConvertError(Exception):
    """Bad input (missing/corrupt file, unwritable path): the user must fix something; exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem

    def one_line(self) -> str:
        return " ".join(f"error: {self.path}: {self.problem}".split())


class QualityGateError(ConvertError):
    """The converted model is not fit to ship (float op left, too much accuracy lost); exit code 3."""

    exit_code = EXIT_QUALITY_GATE


def run_cli(body: Callable[[], int]) -> int:
    """A stage's entry point body, with user errors as one line on stderr and the stage's exit code instead of
    a traceback: ConvertError, DataError (the dataset), OSError (a path), and EdgeError (command-line usage, via
    edge.cli_common.OneLineParser). Logging is set up by the caller (edge.cli_common.setup_logging). Ctrl-C and
    SIGTERM end it with one line too, and the exit code 128 + the signal (130, 143)."""
    from edge.interrupts import NOT_FINISHED
    from train.stopping import sigterm_stops, stop_cause, stop_exit_code  # standard library only, like this module

    try:
        with sigterm_stops():
            return body()
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (train.stopping.Stopped)
        print(f"{stop_cause(exc)}: {NOT_FINISHED}", file=sys.stderr)
        return stop_exit_code(exc)
    except ConvertError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except EdgeError as exc:
        print(exc.one_line(), file=sys.stderr)
        return EXIT_BAD_INPUT
    except DataError as exc:
        print(" ".join(f"error: {exc}".split()), file=sys.stderr)
        return ConvertError.exit_code
    except OSError as exc:  # e.g. --cache-dir naming a file, a full disk: the path and the reason, not a traceback
        print(" ".join(f"error: {exc.filename or 'file system'}: {exc.strerror or exc}".split()), file=sys.stderr)
        return ConvertError.exit_code
