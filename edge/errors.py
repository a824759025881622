"""The one exception type the edge runtime reports to users as `error: <thing>: <problem>`."""

from __future__ import annotations

from collections.abc import Callable


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


class SourceUnavailable(EdgeError):
    """A live source that cannot be opened now but may be later (camera absent or busy, stream down): the service
    waits for it. Any other source problem (a missing module, a bad setting) is a plain EdgeError. Exits 2 like
    every EdgeError when a run gives up on it at once."""


def access_error(thing: str, exc: OSError, hint: str | None = None) -> EdgeError:
    """The one-line error for an OSError met while looking at a path (pathlib's is_file/is_dir/exists raise on
    EACCES): `<thing>: cannot access (Permission denied)`, then `hint` (how to get the rights) if access was denied."""
    problem = f"cannot access ({exc.strerror or exc})"
    return EdgeError(thing, f"{problem}; {hint}" if hint and isinstance(exc, PermissionError) else problem)


def checked(thing: str, test: Callable[[], bool], hint: str | None = None) -> bool:
    """`test()`, e.g. `path.is_file`, with the OSError it may raise (EACCES: a folder on the way that this user
    may not enter) as access_error(thing, ...)."""
    try:
        return test()
    except OSError as exc:
        raise access_error(thing, exc, hint) from None
