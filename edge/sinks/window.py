"""On-screen overlay window (cv2.imshow); q or Esc ends the run.

OpenCV's window is Qt with only the xcb (X11) platform plugin: on a display it cannot reach, Qt aborts the
whole process (SIGABRT) before any cv2.error can be caught. `window_unavailable_reason` therefore opens and
closes a test window in a child process first; the run opens its own window only when that worked.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable

import cv2

from edge.sinks.base import BaseSink
from edge.sinks.overlay import draw_overlay
from edge.types import FrameResult

log = logging.getLogger(__name__)

QUIT_KEYS = (ord("q"), ord("Q"), 27)
WINDOW_TITLE = "edge - emotions"
INITIAL_MAX_SIZE = (1280, 720)  # width, height the window first opens at, at most; the user may resize it


NO_DISPLAY = "no display found ($DISPLAY / $WAYLAND_DISPLAY unset)"
WAYLAND_ONLY = "only $WAYLAND_DISPLAY is set, and OpenCV's window needs X11 ($DISPLAY, e.g. XWayland's)"
PROBE_TIMEOUT_S = 20.0  # a cold `import cv2` plus Qt start-up on a Pi 3 takes a few seconds
PROBE_CODE = ("import cv2; cv2.namedWindow('edge-probe'); cv2.waitKey(1); cv2.destroyAllWindows(); "
              "cv2.waitKey(1)")
# Qt's line naming the actual problem, e.g. "qt.qpa.xcb: could not connect to display :99"
PROBE_DETAIL_WORDS = ("display", "connect")


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


class WindowSink(BaseSink):
    shows_live = True

    def __init__(self, title: str = WINDOW_TITLE, on_failure: Callable[[], None] | None = None) -> None:
        self.title = title
        self._stop = False
        self.failed = False
        self.on_failure = on_failure  # called once when the window fails and the run goes on headless
        self._opened = False

    def write(self, result: FrameResult) -> None:
        if self.failed:
            return
        try:
            if not self._opened:
                self._open(result.frame.image.shape[1], result.frame.image.shape[0])
            cv2.imshow(self.title, draw_overlay(result.frame.image, result))
            key = cv2.waitKey(1) & 0xFF
            closed = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error as exc:
            self.failed = True
            log.warning("window unavailable (%s); continuing headless", str(exc).strip().splitlines()[-1])
            if self.on_failure is not None:
                self.on_failure()
            return
        if key in QUIT_KEYS or closed:
            log.info("window closed" if closed else "quit key pressed")
            self._stop = True

    def _open(self, width: int, height: int) -> None:
        """A resizable window (aspect kept), first shown at most INITIAL_MAX_SIZE: a 1080p camera frame shown at
        its own size would run off a laptop's or a Pi display's screen."""
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        scale = min(1.0, INITIAL_MAX_SIZE[0] / width, INITIAL_MAX_SIZE[1] / height)
        cv2.resizeWindow(self.title, max(1, round(width * scale)), max(1, round(height * scale)))
        self._opened = True

    def should_stop(self) -> bool:
        return self._stop

    def close(self) -> None:
        if not self.failed:
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass
