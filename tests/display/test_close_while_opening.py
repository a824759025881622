"""Closing a display whose worker is still opening its screen (it has not reported ready) kills the worker at once,
in every mode, instead of asking it to finish and waiting up to CLOSE_TIMEOUT_S (3 s) for an answer it cannot give
while its open hangs; a worker that is up still gets the polite close (None on the pipe) and exits by itself.

The open is made to hang for real: for window and fullscreen the X server is paused (SIGSTOP), so the worker's
connection is accepted but never answered; for the framebuffer the device is a FIFO without a reader, so the
worker's open-for-writing blocks (like a stuck SPI/USB screen driver).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.display import DisplayConfig
from edge.display.sink import CLOSE_TIMEOUT_S, DisplaySink
from tests.display.conftest import Xvfb, make_framebuffer, make_result, wait_for

MODES = ("window", "fullscreen", "framebuffer")
# A killed worker ends in milliseconds (measured 0.00-0.08 s); the old polite close took all of CLOSE_TIMEOUT_S.
CLOSE_WITHIN_S = CLOSE_TIMEOUT_S / 2
SHOW_TIMEOUT_S = 60  # the worker imports OpenCV and opens the screen, on a busy 2-core machine
KILLED = -signal.SIGKILL
POLITE_EXIT = 0


def display_config(mode: str, tmp_path: Path, hung: bool) -> DisplayConfig:
    """Options of `mode`; a framebuffer's device is a FIFO nobody reads when `hung` (its open never returns)."""
    if mode != "framebuffer":
        return DisplayConfig(mode=mode, retry_s=0)
    fb = make_framebuffer(tmp_path)
    if hung:
        fb.device.unlink()
        os.mkfifo(fb.device)
    return DisplayConfig(**fb.options(), retry_s=0)


@pytest.fixture
def x_server(xvfb: Xvfb, monkeypatch: pytest.MonkeyPatch) -> Xvfb:
    monkeypatch.setenv("DISPLAY", xvfb.display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return xvfb


def paused(xvfb: Xvfb | None) -> Callable[[], None]:
    """Pause the X server (if any) so that a worker's connection hangs; returns the function that resumes it."""
    if xvfb is None:
        return lambda: None
    os.kill(xvfb.process.pid, signal.SIGSTOP)
    return lambda: os.kill(xvfb.process.pid, signal.SIGCONT)


def server_for(mode: str, request: pytest.FixtureRequest) -> Xvfb | None:
    """The test's X server, on $DISPLAY, for the X11 modes; None for the framebuffer."""
    return None if mode == "framebuffer" else request.getfixturevalue("x_server")


@pytest.mark.parametrize("mode", MODES)
def test_closing_a_display_still_opening_kills_its_worker_at_once(mode: str, request: pytest.FixtureRequest,
                                                                  tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="edge.display.sink")
    resume = paused(server_for(mode, request))
    sink = None
    try:
        sink = DisplaySink(display_config(mode, tmp_path, hung=True))
        worker = sink._process
        sink.write(make_result([]))  # skipped: not ready
        started = time.monotonic()
        sink.close()
        closing = time.monotonic() - started
    finally:
        resume()
        if sink is not None:
            sink.close()
    print(f"{mode}: closing a display still opening took {closing:.3f} s")
    assert closing < CLOSE_WITHIN_S, f"closing a {mode} display still opening took {closing:.2f} s"
    assert worker.exitcode == KILLED, f"the {mode} worker still opening was not killed (exit code {worker.exitcode})"
    assert sink.frames_shown == 0 and sink.lost_reason is None  # a close, not a loss: nothing logged
    logged = [r.getMessage() for r in caplog.records if r.name == "edge.display.sink"]
    assert not logged, logged


@pytest.mark.parametrize("mode", MODES)
def test_a_display_that_is_up_is_still_closed_politely(mode: str, request: pytest.FixtureRequest,
                                                       tmp_path: Path) -> None:
    server_for(mode, request)
    sink = DisplaySink(display_config(mode, tmp_path, hung=False))
    worker = sink._process
    result = make_result([])
    try:
        wait_for(lambda: sink.frames_shown >= 1 or sink.lost_reason is not None, SHOW_TIMEOUT_S, "a frame shown",
                 step=lambda: sink.write(result))
        assert sink.lost_reason is None, sink.lost_reason
    finally:
        sink.close()
    assert worker.exitcode == POLITE_EXIT, f"the {mode} worker that was up ended with exit code {worker.exitcode}"


def test_a_ctrl_c_right_after_the_worker_started_leaves_no_worker_behind(tmp_path, monkeypatch):
    """A KeyboardInterrupt raised just after the worker process started (a Ctrl-C taken by another thread while
    the main thread had it blocked) used to leave the worker running, with the sink never returned to be closed;
    the worker ignores SIGTERM, and multiprocessing's exit handler waits for it: the process never exited. Here
    the worker's open hangs (a framebuffer FIFO nobody reads), as on a stuck screen."""
    import multiprocessing.context

    started = []
    real_start = multiprocessing.context.SpawnProcess.start

    def start_then_ctrl_c(process) -> None:  # noqa: ANN001 - a SpawnProcess
        real_start(process)
        started.append(process)
        raise KeyboardInterrupt

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", start_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        DisplaySink(display_config("framebuffer", tmp_path, hung=True))
    assert len(started) == 1
    assert not started[0].is_alive() and started[0].exitcode == KILLED
    assert started[0] not in multiprocessing.active_children()


def test_a_ctrl_c_after_the_start_but_before_the_sink_is_returned_leaves_no_worker_behind(tmp_path, monkeypatch):
    """The same, one step later: the worker is the sink's already, but the sink never reaches anyone who would
    close it."""
    import multiprocessing

    import edge.display.sink as sink_module

    workers = []
    real_debug = sink_module.log.debug

    def debug_then_ctrl_c(message, *args) -> None:  # noqa: ANN001 - logging's signature
        real_debug(message, *args)
        if message.startswith("display worker started"):
            workers.extend(child for child in multiprocessing.active_children() if child.name == "edge-display")
            raise KeyboardInterrupt

    monkeypatch.setattr(sink_module.log, "debug", debug_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        DisplaySink(display_config("framebuffer", tmp_path, hung=True))
    assert len(workers) == 1
    assert not workers[0].is_alive() and workers[0].exitcode == KILLED
