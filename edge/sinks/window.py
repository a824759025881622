"""On-screen overlay window of a run; q, Esc or closing it ends the run.

OpenCV's window is Qt with only the xcb (X11) platform plugin: on a display it cannot reach, Qt aborts the
whole process (SIGABRT) before any cv2.error can be caught, and on a display that goes away later it ends the
process (exit 1). `window_unavailable_reason` therefore opens and closes a test window in a child process first,
and the window itself is drawn by a worker process (WindowSink, built on edge.display.sink.DisplaySink).

A run's first frame waits for the window to open (up to START_TIMEOUT_S), in slices of STOP_CHECK_S: the run's
stop signals set the pipeline's stop event (from edge.stop_signals' thread; a wait in select() resumes after the
handler, PEP 475), so the wait looks at that event between slices and a Ctrl-C ends it at once.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from edge.display.config import DisplayConfig
from edge.display.screens import INITIAL_MAX_SIZE, QUIT_KEYS  # noqa: F401 - re-exported
from edge.display.sink import START_TIMEOUT_S, DisplaySink
from edge.types import FrameResult

log = logging.getLogger(__name__)


NO_DISPLAY = "no display found ($DISPLAY / $WAYLAND_DISPLAY unset)"
WAYLAND_ONLY = "only $WAYLAND_DISPLAY is set, and OpenCV's window needs X11 ($DISPLAY, e.g. XWayland's)"
PROBE_TIMEOUT_S = 20.0  # a cold `import cv2` plus Qt start-up on a Pi 3 takes a few seconds
PROBE_CODE = ("import cv2; cv2.namedWindow('edge-probe'); cv2.waitKey(1); cv2.destroyAllWindows(); "
              "cv2.waitKey(1)")
# Qt's line naming the actual problem, e.g. "qt.qpa.xcb: could not connect to display :99"
PROBE_DETAIL_WORDS = ("display", "connect")
STOP_CHECK_S = 0.1  # the first-frame wait looks at the stop event this often


def _probe_failure(display: str, probe: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in probe.stderr.splitlines() if line.strip()]
    detail = next((line for line in lines if any(w in line.lower() for w in PROBE_DETAIL_WORDS)), None)
    if detail is None and probe.returncode < 0:
        detail = f"test window process killed by {signal.Signals(-probe.returncode).name}"
    return f"cannot open a window on $DISPLAY={display} ({detail or f'test window exited with {probe.returncode}'})"


def window_unavailable_reason(timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why no window can be opened here (one line), or None when a test window opened and closed cleanly."""
    display = os.environ.get("DISPLAY")
    if not display:
        return WAYLAND_ONLY if os.environ.get("WAYLAND_DISPLAY") else NO_DISPLAY
    try:
        probe = subprocess.run([sys.executable, "-c", PROBE_CODE], capture_output=True, text=True, timeout=timeout_s,
                               stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return f"cannot open a window on $DISPLAY={display} (no answer within {timeout_s:.0f} s)"
    except OSError as exc:
        return f"cannot test the window on $DISPLAY={display} ({exc.strerror or exc})"
    return None if probe.returncode == 0 else _probe_failure(display, probe)


class WindowSink(DisplaySink):
    """The overlay window of a run, drawn by a worker process (edge.display.worker).

    In its own process because Qt ends the process whose X connection breaks (an `ssh -X` session dropped, the X
    server gone): the run then goes on headless (`on_failure` is called once), its event log, store and --video
    intact. The first frame waits for the window to open, unless `stop_event` (the pipeline's: a stop signal) is set
    before or during the wait; later frames go to the window when it has shown the
    previous one, and are skipped while it is still drawing, so the window never slows the pipeline down.
    q, Esc or closing the window ends the run."""

    shows_live = True

    def __init__(self, on_failure: Callable[[], None] | None = None,
                 stop_event: threading.Event | None = None) -> None:
        self.on_failure = on_failure  # called once when the window fails and the run goes on headless
        self.failed = False
        self._stop = False
        self._stop_event = stop_event if stop_event is not None else threading.Event()
        super().__init__(DisplayConfig(mode="window", retry_s=0), viewer=True)

    def write(self, result: FrameResult) -> None:
        if self.failed or self._stop:
            return
        self._await_worker()
        super().write(result)

    def _await_worker(self) -> None:
        """Wait while the worker starts (bounded: a window that does not open is a failed one), but not once a stop
        is requested: the run ends after this frame, without waiting for the window."""
        if self._conn is None or self._ready:
            return
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while not self._stop_event.is_set() and (left := deadline - time.monotonic()) > 0:
                if self._conn.poll(min(left, STOP_CHECK_S)):
                    return
        except (EOFError, OSError):
            pass  # a dead worker: write() finds out and goes headless

    def _lose(self, reason: str) -> None:
        first = not self.failed
        self.failed = True
        super()._lose(reason)
        if first and self.on_failure is not None:
            self.on_failure()

    def _closed(self, reason: str) -> None:
        log.info(reason)
        self._stop = True
        self._stop_worker(polite=False)

    def should_stop(self) -> bool:
        return self._stop

    def describe(self) -> str:
        state = f", headless since: {self.lost_reason}" if self.lost_reason else ""
        return f"window: {self.frames_shown} frames shown{state}"
