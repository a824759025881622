"""How a command is stopped: Ctrl-C (SIGINT) and SIGTERM (kill, a scheduler ending a job) end it the same way, so
the entry point can say in one line what was kept, with the exit code 128 + the signal's number, as a shell
reports it. A group of writes that belong together (a checkpoint and its resume state, a model and its run record)
lands whole before the stop takes effect through edge.interrupts.stops_deferred. Standard library only: the CLIs
use it before TensorFlow loads."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from edge.interrupts import in_main_thread

SIGNAL_EXIT_BASE = 128  # a process ended by signal N exits 128 + N (130 for Ctrl-C, 143 for SIGTERM)


class Stopped(KeyboardInterrupt):
    """SIGTERM, raised as Ctrl-C raises KeyboardInterrupt, so every handler of an interruption handles it too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_signal(exc: KeyboardInterrupt) -> int:
    """The signal behind an interruption: SIGTERM for Stopped, SIGINT for Ctrl-C's KeyboardInterrupt."""
    return getattr(exc, "signum", signal.SIGINT)


def stop_exit_code(exc: KeyboardInterrupt) -> int:
    return SIGNAL_EXIT_BASE + stop_signal(exc)


def stop_cause(exc: KeyboardInterrupt) -> str:
    """How the one line that ends a stopped command starts: "interrupted" (Ctrl-C) or "stopped by SIGTERM"."""
    signum = stop_signal(exc)
    return "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signum)


@contextmanager
def sigterm_stops() -> Iterator[None]:
    """Within the block SIGTERM raises Stopped (a KeyboardInterrupt) instead of ending the process at once with
    no word of what was kept; the previous handler is restored after."""
    if not in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
