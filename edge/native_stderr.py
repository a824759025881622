"""Catch what C/C++ code in LiteRT and MediaPipe writes straight to stderr, and log it instead.

Why: stderr is reserved for one-line errors (our logging goes to stdout), but LiteRT and MediaPipe print their own
log lines to file descriptor 2 while a model loads, on MediaPipe's first frame and on its close
(`INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`, `W0000 ... Input tensor memory is not aligned ...`).
None is a fault, yet on a first run they look like one. No environment variable quiets them in the mediapipe /
ai-edge-litert builds used here (GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL, ABSL_MIN_LOG_LEVEL, GOOGLE_STDERRTHRESHOLD
change nothing; docs/EDGE.md), and the C code never goes through Python's sys.stderr.

`native_stderr_logged(what)` points fd 2 at a temporary file (a file, not a pipe: a chatty library can never block
on a full pipe nobody reads) for the few calls that print, restores it afterwards (also on an exception or a
Ctrl-C) and logs every captured line: known noise (`INFO:`, `WARNING:`, `I0000`, `W0000`) at DEBUG
(`--log-level debug` shows it), anything else, errors (`E0000`, `F0000`, `ERROR:`) included, at WARNING, so nothing
real is hidden. fd 2 is process-wide: keep the windows short, start no child process inside one (it would inherit
the temporary file as its stderr) and never use it on a per-frame path (a few syscalls each time). A crash inside a
window (a native library's segfault) would take the captured lines with it: `EDGE_NATIVE_STDERR=show` turns the
capture off, for debugging such a crash."""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
from contextlib import AbstractContextManager
from typing import IO

from edge.interrupts import stops_deferred

log = logging.getLogger(__name__)

STDERR_FD = 2
SHOW_ENV, SHOW_VALUE = "EDGE_NATIVE_STDERR", "show"  # leave fd 2 alone: native lines go to stderr as they come
MAX_CAPTURED_BYTES = 64 * 1024  # a model load prints a few hundred bytes; more than this is cut, not held in memory
# Lines that are only chatter: LiteRT/TFLite `INFO: `/`WARNING: ` and absl/glog info and warning records
# (`I0000 00:00:...`, `W0000 00:00:...`, the letter then MMDD).
NOISE_LINE = re.compile(r"^(?:(?:INFO|WARNING): |[IW]\d{4} )")
# One window at a time: two threads swapping fd 2 at once would leave it pointing at a closed temporary file.
_WINDOW_LOCK = threading.RLock()


def log_level_of(line: str, chatter: re.Pattern[str] | None = None) -> int:
    """DEBUG for recognised info/warning chatter (and lines the caller knows to be chatter: `chatter`); WARNING
    for errors and for anything not recognised."""
    if NOISE_LINE.match(line) or (chatter is not None and chatter.search(line)):
        return logging.DEBUG
    return logging.WARNING


def relog(what: str, text: str, chatter: re.Pattern[str] | None = None) -> None:
    """Each non-empty captured line as a record of this module's logger, prefixed with what was being done."""
    for line in text.splitlines():
        line = line.rstrip()
        if line:
            log.log(log_level_of(line, chatter), "%s: %s", what, line)


def flush_stderr() -> None:
    """Python's own buffered stderr text goes where fd 2 points now, not to the other side of a swap."""
    stream = sys.stderr
    if stream is not None:
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing to keep in order
            pass


def restore(saved: int) -> None:
    """fd 2 back to what it was; the copy closed."""
    try:
        flush_stderr()
    finally:
        try:
            os.dup2(saved, STDERR_FD)
        finally:
            os.close(saved)


def read_capture(capture: IO[bytes]) -> str:
    """What was written to fd 2 during the window (at most MAX_CAPTURED_BYTES); the file closed (and so deleted)."""
    try:
        capture.seek(0)
        return capture.read(MAX_CAPTURED_BYTES).decode("utf-8", errors="replace")
    except OSError:  # must not replace an exception that ended the window
        return ""
    finally:
        capture.close()


class Window:
    """One capture: fd 2's saved copy and the temporary file. Opening and closing run with Ctrl-C held back, so a
    Ctrl-C during either cannot leave fd 2 swapped or a descriptor open."""

    def __init__(self) -> None:
        self.saved: int | None = None
        self.file: IO[bytes] | None = None

    def open(self) -> None:
        """fd 2 pointed at a new temporary file; left as it was when that cannot be done (no fd 2, no writable
        temporary folder) or is not wanted (EDGE_NATIVE_STDERR=show)."""
        if os.environ.get(SHOW_ENV) == SHOW_VALUE:
            return
        try:
            self.file = tempfile.TemporaryFile()
            self.saved = os.dup(STDERR_FD)
            flush_stderr()
            os.dup2(self.file.fileno(), STDERR_FD)
        except OSError:
            self.close()

    def close(self) -> str:
        """fd 2 restored (if it was swapped), the copy and the file closed; what was captured."""
        saved, file = self.saved, self.file
        self.saved = self.file = None
        try:
            if saved is not None:
                restore(saved)
        finally:
            text = read_capture(file) if file is not None else ""
        return text


class native_stderr_logged:  # noqa: N801 - used like a function: `with native_stderr_logged("..."):`
    """Inside the block, whatever anything in this process writes to fd 2 is logged afterwards, `what: <line>`
    (e.g. `mediapipe face detector`), instead of reaching stderr; lines matching `chatter` count as noise too.
    Exceptions propagate; fd 2 is restored first.

    Ctrl-C and SIGTERM are held back (edge.interrupts.stops_deferred) from before fd 2 is swapped until after it is
    restored, and a stop noted meanwhile is raised then: a Ctrl-C landing anywhere in between, at the start of
    __exit__ included, would leave fd 2 redirected for the rest of the run (a stop-holding block entered in
    __exit__ itself left such a moment open: a SIGINT storm found it under load). The block is mostly a native call
    or two, which Python cannot interrupt anyway: a Ctrl-C during one took effect when it returned, as it does now
    (importing TensorFlow, train.environment.load_tensorflow, holds a stop for its few seconds).
    A class, not a generator: a Ctrl-C between a generator's yield and `with` taking over would be lost the same
    way."""

    def __init__(self, what: str, chatter: re.Pattern[str] | None = None) -> None:
        self.what, self.chatter = what, chatter
        self.window = Window()
        self.locked = False
        self.held: AbstractContextManager[None] | None = None

    def __enter__(self) -> None:
        self.held = stops_deferred()
        self.held.__enter__()  # a Ctrl-C before this leaves nothing open; from here on it is noted, not raised
        try:
            _WINDOW_LOCK.acquire()
            self.locked = True
            self.window.open()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            try:
                relog(self.what, self.window.close(), self.chatter)
            finally:
                if self.locked:
                    self.locked = False
                    _WINDOW_LOCK.release()
        finally:
            held, self.held = self.held, None
            if held is not None:
                held.__exit__(None, None, None)  # the handlers back; a stop noted meanwhile is raised now
