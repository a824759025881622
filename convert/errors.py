"""User-facing failures of the conversion stage, printed as one line `error: <path>: <problem>`."""

from __future__ import annotations

from pathlib import Path

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
