"""Stop signals (Ctrl-C, SIGTERM, a closed terminal's SIGHUP) turned into a call of the command's `stop`, made by a
watcher thread, never by the signal handler itself.

Why: Python runs a signal handler in the main thread between two bytecodes, possibly inside threading code that
holds the very lock `stop` needs. A handler that set the pipeline's stop event (threading.Event.set) while the main
thread was waiting on that event (the demo clock, a reconnect backoff, the service waiting for its camera:
Condition.wait taking its lock back) waited for itself forever: `python -m edge` ignored SIGTERM for good in 1 of
30 tries, and systemd would have killed the service without its last events. Here the handler only writes the
signal's number to a pipe (no lock taken); the watcher reads it and calls `stop` as any other thread would.

Standard library only."""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

# Each ends the run after the current frame, so the sinks close properly. SIGHUP is a closed terminal or a dropped
# SSH session: killed by it, an .mp4 being recorded would never get its index and could not be played at all.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
THREAD_NAME = "stop-signals"
CLOSE_TIMEOUT_S = 5.0  # for a stop callback still running when the command ends
# A stop not done by then is logged with every thread's stack, before systemd's kill (TimeoutStopSec=30 in
# systemd/): a hang at stop (a blocking native call, a lock) says where it is instead of vanishing with a SIGKILL.
STUCK_REPORT_S = 20.0


class StopSignals:
    """While installed, each stop signal is logged once it arrives (`received SIGTERM; stopping after the current
    frame`) and `stop()` is called on the watcher thread. `retarget(stop)` swaps the callback: once it returns, a
    signal handed to the old one has been handled by it (the service checks its early-stop event right after).
    `close()` puts the previous handlers back and ends the watcher; a stop signal from then on acts as it did
    before install (Ctrl-C: KeyboardInterrupt). A command not closed `stuck_report_s` after the first stop dumps
    every thread's stack and logs a WARNING."""

    def __init__(self, stop: Callable[[], None], signals: tuple[signal.Signals, ...] = STOP_SIGNALS,
                 stuck_report_s: float = STUCK_REPORT_S) -> None:
        self._stop = stop
        self.stuck_report_s = stuck_report_s
        self._stuck_timer: threading.Timer | None = None
        self._closed = False
        self._dump_armed = False  # faulthandler's one process-wide timed dump is ours to cancel
        self._dispatching = threading.Lock()  # taken by the watcher and by retarget, never in a signal handler
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # a handler must never block; a full pipe already holds a stop
        self._previous: dict[int, object] = {}
        self._restored: dict[int, object] = {}  # what close() put back, for a _note reinstalled after it
        self._thread = threading.Thread(target=self._watch, name=THREAD_NAME, daemon=True)
        self._thread.start()
        try:
            for signum in signals:  # one at a time, each recorded as it is swapped, so close() restores it
                self._previous[signum] = signal.signal(signum, self._note)
        except BaseException:
            self.close()
            raise

    def _note(self, signum: int, frame: FrameType | None) -> None:
        """The handler: one byte to the watcher, nothing else (see the module docstring). Put back after close()
        (a stops_deferred block that outlived it restores what it swapped out), it hands the signal on to the
        handler from before, so the signal is never dropped."""
        fd = self._write_fd
        if fd < 0:
            self._forward(signum, frame)
            return
        try:
            os.write(fd, bytes([signum]))
        except OSError:  # full: a stop is pending anyway
            pass

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        handler = self._restored.get(signum, signal.SIG_DFL)
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    def _watch(self) -> None:
        while True:
            try:
                data = os.read(self._read_fd, 64)
            except OSError:
                return
            if not data:  # close(): the write end is gone
                return
            with self._dispatching:
                for signum in data:
                    log.info("received %s; stopping after the current frame", signal.Signals(signum).name)
                    self._report_if_stuck(signal.Signals(signum).name)  # before: the callback itself may hang
                    try:
                        self._stop()
                    except Exception:  # noqa: BLE001 - the watcher must outlive a faulty callback
                        log.exception("stopping on %s failed", signal.Signals(signum).name)

    def _report_if_stuck(self, name: str) -> None:
        """Once, after the first stop: if the command is still running stuck_report_s later, faulthandler dumps
        every thread's stack to stdout (where the log goes) from a C thread of its own, so also while a native call
        holds the GIL; a timer adds a WARNING saying why (it needs the GIL: it may come late)."""
        if self._stuck_timer is not None or self._closed:
            return
        stream = sys.stdout if sys.stdout is not None else sys.stderr
        try:
            faulthandler.dump_traceback_later(self.stuck_report_s, file=stream)
            self._dump_armed = True
        except (OSError, ValueError, AttributeError):  # no usable file descriptor: the warning has to do
            pass
        self._stuck_timer = threading.Timer(self.stuck_report_s, log.warning, args=(
            "still running %g s after %s; every thread's stack is dumped to stdout ('Timeout (...)!')",
            self.stuck_report_s, name))
        self._stuck_timer.daemon = True
        self._stuck_timer.start()

    def retarget(self, stop: Callable[[], None]) -> None:
        with self._dispatching:
            self._stop = stop

    def close(self) -> None:
        """Handlers back (SIGINT last: a Ctrl-C meanwhile may raise KeyboardInterrupt here, after the others are
        back), then the watcher ended, whatever happened while the handlers went back."""
        locked = self._dispatching.acquire(timeout=CLOSE_TIMEOUT_S)  # not for ever: a callback may be stuck
        try:
            self._closed = True  # no stuck report from now on
            if self._stuck_timer is not None:
                self._stuck_timer.cancel()
            if self._dump_armed:
                faulthandler.cancel_dump_traceback_later()
        finally:
            if locked:
                self._dispatching.release()
        try:
            while self._previous:
                signum, handler = self._previous.popitem()  # last swapped first: SIGINT last
                handler = signal.SIG_DFL if handler is None else handler  # None: set outside Python
                self._restored[signum] = handler
                signal.signal(signum, handler)
        finally:
            fd, self._write_fd = self._write_fd, -1  # -1 first: a handler never writes to a reused number
            if fd >= 0:
                os.close(fd)  # the watcher handles what is left, then reads end of file
                self._thread.join(CLOSE_TIMEOUT_S)
                if not self._thread.is_alive():  # else a callback is stuck: its descriptor is left to it
                    os.close(self._read_fd)

    def __enter__(self) -> StopSignals:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
