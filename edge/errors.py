"""The one exception type the edge runtime reports to users as `error: <thing>: <problem>`."""

from __future__ import annotations


class EdgeError(Exception):
    """A user-facing failure (bad input, missing file, unopenable device); exits with code 2."""

    exit_code = 2

    def __init__(self, thing: str, problem: str) -> None:
        super().__init__(f"{thing}: {problem}")
        self.thing = thing
        self.problem = problem

    def one_line(self) -> str:
        text = f"error: {self.thing}: {self.problem}"
        return " ".join(text.split())


class TransientError(EdgeError):
    """A failure that may go away by itself (e.g. the web port still held by another process): exits with code 1,
    which systemd's Restart=on-failure retries, unlike a configuration error (2, RestartPreventExitStatus=2)."""

    exit_code = 1
