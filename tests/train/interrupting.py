"""Run a command's main with a real signal sent to the process at a chosen point, so a test can stop it exactly
there instead of racing a timer:

    python -m tests.train.interrupting SIGNAL POINT MODULE [ARGS...]

SIGNAL is SIGINT (Ctrl-C) or SIGTERM; MODULE is train or convert. POINT is `import:PACKAGE[:N]` (as PACKAGE is
looked up for the Nth time, 1 by default: the commands look TensorFlow up first without importing it, so its
import is the 2nd) or `call:MODULE:FUNCTION:N` (as the Nth call of that module attribute starts; the call then goes on,
and the command's own handlers decide when the signal takes effect)."""

from __future__ import annotations

import importlib
import importlib.abc
import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import ModuleType


class SignalOnImport(importlib.abc.MetaPathFinder):
    """Sends the signal when `package` is looked up for the `nth` time; finds nothing itself."""

    def __init__(self, package: str, signum: int, nth: int = 1) -> None:
        self.package, self.signum, self.nth, self.lookups = package, signum, nth, 0

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> None:
        if name == self.package:
            self.lookups += 1
            if self.lookups == self.nth:
                os.kill(os.getpid(), self.signum)
        return None


# `python -m MODULE` exactly (runpy, MODULE run as __main__), sent SIGINT as argv[1] is first looked up;
# run as `python -c SCRIPT PACKAGE ARGS...` after formatting in the module (run_as_main_stopped_at_import).
RUN_AS_MAIN_STOPPED_AT_IMPORT = """
import runpy, signal, sys
from tests.train.interrupting import SignalOnImport
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even when started in the background
sys.meta_path.insert(0, SignalOnImport(sys.argv[1], signal.SIGINT))
sys.argv = [{module!r}, *sys.argv[2:]]
runpy.run_module({module!r}, run_name="__main__", alter_sys=True)
"""


def run_as_main_stopped_at_import(module: str) -> str:
    """A `python -c` script running `python -m module` that is sent SIGINT as its argv[1] is first looked up."""
    return RUN_AS_MAIN_STOPPED_AT_IMPORT.format(module=module)


def signal_on_call(module_name: str, function: str, nth: int, signum: int) -> None:
    module = importlib.import_module(module_name)
    original: Callable = getattr(module, function)
    calls = 0

    def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - passes everything through
        nonlocal calls
        calls += 1
        if calls == nth:
            os.kill(os.getpid(), signum)
        return original(*args, **kwargs)

    setattr(module, function, wrapped)


def main(argv: list[str]) -> int:
    name, point, command, *args = argv
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even when started in the background
    signum = signal.Signals[name]
    kind, _, where = point.partition(":")
    if kind == "import":
        package, _, nth = where.partition(":")
        sys.meta_path.insert(0, SignalOnImport(package, signum, int(nth or 1)))
    else:
        module_name, function, nth = where.split(":")
        signal_on_call(module_name, function, int(nth), signum)
    return importlib.import_module(f"{command}.__main__").main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
