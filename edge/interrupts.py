"""A Ctrl-C while a command's own modules import (numpy, OpenCV, pydantic, the runtime: about 0.7 s) or its models
load ends it with one line on stderr, exit code 130, no traceback: `python -m edge` (edge.__main__) and
`python -m convert` (convert.__main__, convert.evaluate, and convert.errors.run_cli for a Ctrl-C later) alike.
stops_deferred holds Ctrl-C and SIGTERM back for a group of steps that must land together (train's checkpoint
writes, edge.native_stderr's swap of fd 2).

Standard library only, so it is importable before everything it guards."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C (train.stopping.stop_exit_code)
NOT_FINISHED = "the command did not finish; run it again"  # after the cause: `interrupted: ...`


def interrupted() -> int:
    """Say that the command was interrupted before it did anything; its exit code."""
    print(f"interrupted: {NOT_FINISHED}", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def in_main_thread() -> bool:
    """Signal handlers can only be set from the main thread, the only one Python runs them in (a command run from
    a test's worker thread keeps the handlers it has)."""
    return threading.current_thread() is threading.main_thread()


@contextmanager
def stops_deferred() -> Iterator[None]:
    """Ctrl-C or SIGTERM during the block takes effect when the block ends: their handlers are swapped for one that
    notes them, and the first noted is raised again once they are back (a kill -9 or a power cut still cannot be
    deferred). Masking the signal would not do: another thread receives it and the main thread still runs the
    handler. A handler installed outside Python (getsignal None) cannot be put back, so that signal is not held."""
    if not in_main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        pending.append(signum)

    previous: dict[int, object] = {}
    try:
        for signum in STOP_SIGNALS:  # one at a time, each recorded as it is swapped: a stop landing between two
            if signal.getsignal(signum) is not None:  # swaps still finds the first put back below
                previous[signum] = signal.signal(signum, hold)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            signal.raise_signal(pending[0])  # to the restored handler: KeyboardInterrupt, Stopped, or the default
