"""DisplaySink: the on-screen overlay as one more sink, with the drawing in a worker process.

The pipeline thread never waits for the screen: a frame is handed over only when the worker has shown the previous
one (otherwise it is skipped). When the display goes away (screen unplugged, session ended, X server gone,
framebuffer write error) the sink logs one line, "display lost (...); continuing headless", and from then on
discards frames, trying the display again every `retry_s` seconds; the other sinks (event log, store) carry on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from multiprocessing import resource_tracker

from edge.display.config import DisplayConfig
from edge.errors import EdgeError
from edge.sinks.base import BaseSink
from edge.types import FrameResult

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0  # the worker imports OpenCV and opens the screen (slow on a cold Pi)
STALL_TIMEOUT_S = 15.0  # a shown frame not acknowledged by then = a hung display
CLOSE_TIMEOUT_S = 3.0
OPENING_GRACE_S = 0.0  # closing a worker still opening its screen: it has shown nothing, so no wait
WINDOW_MODES = ("window", "fullscreen")


def check_config(cfg: DisplayConfig) -> None:
    """What waiting cannot fix fails the start with one line; a missing screen only means 'headless for now'."""
    if cfg.mode in WINDOW_MODES and not os.environ.get("DISPLAY"):
        extra = " (Wayland: the window needs XWayland's $DISPLAY)" if os.environ.get("WAYLAND_DISPLAY") else ""
        raise EdgeError(f"display.mode {cfg.mode}", f"no X11 display ($DISPLAY unset){extra}; "
                                                    "use display.mode framebuffer without a desktop")
    if cfg.mode == "framebuffer" and os.path.exists(cfg.device):
        from edge.display.framebuffer import FramebufferError, read_geometry

        if os.path.isdir(cfg.device):
            raise EdgeError(f"display.device {cfg.device}", "is a folder, not a framebuffer")
        try:
            read_geometry(cfg.sysfs_dir(), cfg.width, cfg.height, cfg.bits_per_pixel, cfg.stride)
        except FramebufferError as exc:
            raise EdgeError(f"display.device {cfg.device}", str(exc)) from None


class DisplaySink(BaseSink):
    shows_live = True

    def __init__(self, cfg: DisplayConfig, viewer: bool = False) -> None:
        """`viewer`: the worker shows a run's overlay window (edge.sinks.window), which its watcher may end."""
        self.cfg = cfg
        self.viewer = viewer
        self._context = multiprocessing.get_context("spawn")  # no fork of a process with model threads
        self._process = None
        self._conn = None
        self._ready = False
        self._busy_since: float | None = None
        self._started_at = 0.0
        self._next_retry: float | None = None
        self.size: tuple[int, int] | None = None
        self.screen_name = cfg.mode
        self.frames_shown = 0
        self.losses = 0
        self.lost_reason: str | None = None
        try:
            self._start()
        except BaseException:  # a sink never returned is never closed: its worker must not outlive this
            self._stop_worker(polite=False, grace_s=0)
            raise

    @classmethod
    def from_config(cls, cfg: DisplayConfig) -> DisplaySink:
        check_config(cfg)
        return cls(cfg)

    # --- worker lifecycle ------------------------------------------------------------------
    def _start(self) -> None:
        from edge.display.worker import IGNORED_SIGNALS, worker_main

        parent, child = self._context.Pipe(duplex=True)
        settings = self.cfg.model_dump(mode="json")
        process = self._context.Process(target=worker_main, args=(child, settings, self.viewer),
                                        name="edge-display", daemon=True)
        # The worker inherits this thread's signal mask: a Ctrl-C while it starts up waits until it ignores it (see
        # IGNORED_SIGNALS); here it is handled once unblocked. multiprocessing's resource tracker, started by the
        # first process.start(), unblocks them after starting itself (bpo-33613): started before they are blocked.
        resource_tracker.ensure_running()
        previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, IGNORED_SIGNALS)
        try:
            try:
                process.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
            child.close()
            self._process, self._conn = process, parent
        except BaseException:  # e.g. a Ctrl-C taken by another thread, raised here: no worker left behind, since
            self._process = self._conn = None  # it ignores SIGTERM and multiprocessing's exit would wait for it
            parent.close()
            child.close()
            if process.pid is not None:
                process.kill()
                process.join(CLOSE_TIMEOUT_S)
            raise
        self._ready, self._busy_since = False, None
        self._started_at = time.monotonic()
        log.debug("display worker started (pid %s, mode %s)", process.pid, self.cfg.mode)

    def _stop_worker(self, polite: bool, grace_s: float = 0.5) -> None:
        """`polite`: ask the worker to finish (None on the pipe) and give it CLOSE_TIMEOUT_S; else it gets `grace_s`
        to end by itself (after reporting a loss or a closed window it does) before it is killed."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._ready = False
        if conn is not None:
            if polite:
                try:
                    conn.send(None)
                except OSError:
                    pass
            conn.close()
        if process is not None:
            process.join(CLOSE_TIMEOUT_S if polite else grace_s)
            if process.is_alive():
                process.kill()  # the worker ignores SIGTERM (see worker_main)
                process.join(CLOSE_TIMEOUT_S)

    def _exit_reason(self) -> str:
        process = self._process
        if process is not None:
            process.join(1.0)
        code = None if process is None else process.exitcode
        hint = "; X server or desktop session gone?" if self.cfg.mode in WINDOW_MODES else ""
        return f"display process ended (exit code {code}{hint})"

    def _lose(self, reason: str) -> None:
        first = self.lost_reason is None
        was_shown = self.frames_shown > 0 or self.losses > 0
        self.lost_reason = reason
        self._stop_worker(polite=False)
        retry = self.cfg.retry_s
        self._next_retry = time.monotonic() + retry if retry > 0 else None
        if first:
            self.losses += 1
            retrying = f" (retrying every {retry:g} s)" if retry > 0 else ""
            what = "display lost" if was_shown else "display unavailable"
            log.warning("%s (%s); continuing headless%s", what, reason, retrying)
        else:
            log.debug("display still unavailable: %s", reason)

    def _closed(self, reason: str) -> None:
        """The watcher ended the window (viewer workers only): here, like a lost display."""
        self._lose(reason)

    def _drain(self) -> None:
        """Handle the worker's messages; a dead worker or a loss report switches to headless."""
        try:
            while self._conn is not None and self._conn.poll():
                kind, *rest = self._conn.recv()
                if kind == "ready":
                    self.size, self.screen_name = rest[0], rest[1]
                    self._ready = True
                    size = f"{self.size[0]}x{self.size[1]}" if self.size else "frame size"
                    if self.lost_reason is not None:
                        log.info("display back: %s %s", self.screen_name, size)
                        self.lost_reason = None
                    elif self.viewer:
                        log.info("window open")
                    else:
                        log.info("display: %s %s", self.screen_name, size)
                elif kind == "shown":
                    self.frames_shown += 1
                    self._busy_since = None
                elif kind == "lost":
                    self._lose(rest[0])
                elif kind == "closed":
                    self._closed(rest[0])
        except (EOFError, OSError):
            self._lose(self._exit_reason())

    # --- sink ------------------------------------------------------------------------------
    def write(self, result: FrameResult) -> None:
        now = time.monotonic()
        if self._process is None:
            if self._next_retry is not None and now >= self._next_retry:
                self._next_retry = None
                self._start()
            return
        self._drain()
        if self._process is None:
            return
        if not self._ready:
            if now - self._started_at > START_TIMEOUT_S:
                self._lose(f"the screen did not open within {START_TIMEOUT_S:.0f} s")
            return
        if self._busy_since is not None:
            if now - self._busy_since > STALL_TIMEOUT_S:
                self._lose(f"no frame shown for {STALL_TIMEOUT_S:.0f} s")
            return  # still showing the previous frame: skip this one
        try:
            self._conn.send(result)
        except OSError:
            self._lose(self._exit_reason())
            return
        self._busy_since = now

    def describe(self) -> str:
        size = f" {self.size[0]}x{self.size[1]}" if self.size else ""
        state = f", headless since: {self.lost_reason}" if self.lost_reason else ""
        return f"display: {self.screen_name}{size} ({self.frames_shown} frames shown{state})"

    def close(self) -> None:
        """A worker that is up is asked to finish (it closes its window) and given CLOSE_TIMEOUT_S. One still opening
        (not ready: importing OpenCV, or in an open that may hang on a paused X server or a stuck framebuffer
        driver) would read the request only once its open returns, and has nothing on screen to close: killed."""
        if self._process is not None:
            self._drain()
        self._stop_worker(polite=self._ready, grace_s=OPENING_GRACE_S)
