"""edge.stop_signals: a stop signal reaches the command's stop callback on the watcher thread, also when it lands
while the main thread holds the lock that callback needs (the SIGTERM deadlock found by the display test), and
close() gives the signals back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from edge.stop_signals import STOP_SIGNALS, THREAD_NAME, StopSignals
from tests.edge.helpers import REPO

HANG_TIMEOUT_S = 60  # the old handler never returned; a healthy run takes well under a second
WAIT_S = 10.0

# The main thread holds the stop event's own lock (CPython's Event keeps it as `_cond`: Event.wait holds it around
# its wait and takes it back after) when SIGTERM is handled. A handler calling event.set() there waited for itself.
DEADLOCK_SCRIPT = """
import logging, signal, sys, threading
from edge.stop_signals import StopSignals
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(message)s")
event = threading.Event()
with StopSignals(event.set):
    with event._cond:
        signal.raise_signal(signal.SIGTERM)
    print("stopped" if event.wait({wait}) else "not stopped", flush=True)
"""


def test_a_sigterm_while_the_main_thread_holds_the_stop_events_lock_still_stops() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        proc = subprocess.run([sys.executable, "-c", DEADLOCK_SCRIPT.format(wait=WAIT_S)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=HANG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"SIGTERM handled while the main thread held the event's lock: hung for {HANG_TIMEOUT_S} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == ["INFO received SIGTERM; stopping after the current frame", "stopped"], \
        proc.stdout + proc.stderr


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_each_stop_signal_calls_stop_on_the_watcher_thread(signum: int, caplog) -> None:
    called_on: list[str] = []
    done = threading.Event()

    def stop() -> None:
        called_on.append(threading.current_thread().name)
        done.set()

    with caplog.at_level("INFO", logger="edge.stop_signals"), StopSignals(stop):
        signal.raise_signal(signum)
        assert done.wait(WAIT_S)
    assert called_on == [THREAD_NAME]
    assert f"received {signal.Signals(signum).name}; stopping after the current frame" in caplog.text


def test_close_gives_the_previous_handlers_back() -> None:
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    signals = StopSignals(lambda: None)
    assert all(signal.getsignal(signum) != before[signum] for signum in STOP_SIGNALS)
    signals.close()
    assert {signum: signal.getsignal(signum) for signum in STOP_SIGNALS} == before
    assert not signals._thread.is_alive()
    signals.close()  # twice is harmless


def test_a_handler_put_back_after_close_hands_the_signal_on() -> None:
    """A stops_deferred block that spans close() restores StopSignals' handler after it: the signal must still
    reach the handler from before, not vanish into a closed pipe."""
    from edge.interrupts import stops_deferred

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        signals = StopSignals(lambda: None)
        held = stops_deferred()
        held.__enter__()  # swaps StopSignals' handler out
        signals.close()  # puts default_int_handler back, then stops_deferred overwrites it
        held.__exit__(None, None, None)  # puts StopSignals' handler back
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_after_close_ctrl_c_interrupts_again() -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        StopSignals(lambda: None).close()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)


def test_retarget_waits_for_a_stop_already_in_the_old_callback() -> None:
    """The service swaps early_stop.set for the pipeline's stop and then looks at early_stop: a signal being handed
    to the old callback must have landed by then."""
    entered, release = threading.Event(), threading.Event()
    first: list[str] = []

    def slow_first() -> None:
        entered.set()
        release.wait(WAIT_S)
        first.append("done")

    with StopSignals(slow_first) as signals:
        signal.raise_signal(signal.SIGTERM)
        assert entered.wait(WAIT_S)
        threading.Timer(0.2, release.set).start()
        signals.retarget(lambda: None)
        assert first == ["done"]


def test_a_failing_callback_leaves_the_watcher_running(caplog) -> None:
    calls: list[int] = []
    done = threading.Event()

    def stop() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        done.set()

    with caplog.at_level("INFO", logger="edge.stop_signals"), StopSignals(stop):
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)
        assert done.wait(WAIT_S)
    assert len(calls) == 2
    assert "stopping on SIGTERM failed" in caplog.text and "RuntimeError: boom" in caplog.text


# The main thread then sits in a native call that holds the GIL (libc sleep through ctypes.PyDLL), as a driver
# call of a binding may: a report that needs the GIL would come only after it returns.
STUCK_SCRIPT = """
import ctypes, logging, signal, sys, threading, time
from edge.stop_signals import StopSignals
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(message)s")
def stuck_in_read():
    threading.Event().wait()  # a capture thread that never returns
with StopSignals(lambda: None, stuck_report_s=0.5):
    threading.Thread(target=stuck_in_read, name="capture", daemon=True).start()
    signal.raise_signal(signal.SIGTERM)
    time.sleep(0.1)
    ctypes.PyDLL(None).sleep(3)
    print("slept", flush=True)
    time.sleep(0.5)
print("done", flush=True)
"""


def test_a_stop_not_done_in_time_logs_where_each_thread_is() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", STUCK_SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=HANG_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "WARNING still running 0.5 s after SIGTERM; every thread's stack is dumped to stdout" in out, out
    assert "Timeout (0:00:00.500000)!" in out, out  # faulthandler's header
    assert out.index("Timeout (") < out.index("slept"), out  # on time, though the main thread held the GIL
    assert out.count("still running") == 1 and "stuck_in_read" in out and 'File "<string>"' in out, out
    assert out.rstrip().endswith("done"), out


def test_a_command_closed_in_time_reports_nothing(caplog) -> None:
    with caplog.at_level("INFO", logger="edge.stop_signals"):
        with StopSignals(lambda: None, stuck_report_s=0.3):
            signal.raise_signal(signal.SIGTERM)
            threading.Event().wait(0.1)
        threading.Event().wait(0.5)
    assert "received SIGTERM" in caplog.text and "still running" not in caplog.text
