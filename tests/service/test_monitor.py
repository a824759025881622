"""While a lost camera is being reopened the loop legitimately waits: the monitor keeps systemd informed."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from edge.errors import EdgeError
import edge.service.monitor as monitor_module
from edge.service.monitor import ServiceMonitor, source_backing_off
from edge.service.notify import Notifier
from edge.service.thermal import Health, ThermalProbe
from edge.sources.demo import DemoSource
from edge.sources.reconnect import ReconnectingSource

WAIT_S = 30.0


def test_watchdog_and_status_continue_while_the_camera_reconnects(notify_socket, monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    cancel = threading.Event()

    def unplugged():
        raise EdgeError("source 0", "cannot open camera (no such device or busy)")

    source = ReconnectingSource(unplugged, backoff_initial_s=0.05, backoff_max_s=0.2, cancel=cancel,
                                first=DemoSource(1))
    monitor = ServiceMonitor(Notifier(), ThermalProbe(tmp_path / "none", tmp_path / "none", vcgencmd=None))
    monitor.attach(source, None)
    monitor.waiting = None  # frames were flowing
    assert source.read() is not None and not source_backing_off(source)
    reader = threading.Thread(target=source.read)  # the pipeline thread, stuck in reconnect backoff
    reader.start()
    monitor.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            fields = notify_socket.fields()
            if ("WATCHDOG", "1") in fields and any(k == "STATUS" and "camera lost" in v for k, v in fields):
                break
            time.sleep(0.1)
        assert source_backing_off(source)
        assert ("WATCHDOG", "1") in fields, fields
        assert any(k == "STATUS" and v.startswith("camera lost (demo): reconnecting fps=0.0") for k, v in fields)
    finally:
        cancel.set()
        reader.join()
        monitor.stop()


def test_watchdog_stops_when_the_reopen_itself_hangs(notify_socket, monkeypatch, tmp_path):
    """Only the backoff wait is legitimate: a reopen stuck in the driver must let systemd's watchdog fire."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    tick = 0.05
    monkeypatch.setattr(monitor_module, "MONITOR_TICK_S", tick)
    cancel, entered, release = threading.Event(), threading.Event(), threading.Event()

    def hanging_reopen():
        entered.set()
        release.wait(WAIT_S)  # e.g. a V4L2 open that never returns
        raise EdgeError("source 0", "cannot open camera (no such device or busy)")

    source = ReconnectingSource(hanging_reopen, backoff_initial_s=0.5, backoff_max_s=0.5, cancel=cancel,
                                first=DemoSource(1))
    monitor = ServiceMonitor(Notifier(), ThermalProbe(tmp_path / "none", tmp_path / "none", vcgencmd=None))
    monitor.attach(source, None)
    monitor.waiting = None
    assert source.read() is not None
    reader = threading.Thread(target=source.read)
    reader.start()
    monitor.start()
    try:
        assert entered.wait(WAIT_S)
        during_backoff = notify_socket.fields()
        assert ("WATCHDOG", "1") in during_backoff  # the 0.5 s backoff was pinged through
        time.sleep(4 * tick)  # a tick that saw the backoff may still be sending
        notify_socket.fields()
        notify_socket.messages.clear()
        time.sleep(20 * tick)
        assert source.reconnecting and not source_backing_off(source)
        assert ("WATCHDOG", "1") not in notify_socket.fields(), "the monitor pinged through a hung reopen"
    finally:
        cancel.set()
        release.set()
        reader.join()
        monitor.stop()


def test_watchdog_and_status_while_waiting_for_the_camera_at_start(notify_socket, monkeypatch, tmp_path):
    """Before the pipeline exists (models loading, no camera yet) the wait is legitimate: systemd is kept informed."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_socket.path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.setattr(monitor_module, "MONITOR_TICK_S", 0.05)
    monitor = ServiceMonitor(Notifier(), ThermalProbe(tmp_path / "none", tmp_path / "none", vcgencmd=None))
    monitor.waiting = "waiting for source /dev/video97"
    monitor.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            fields = notify_socket.fields()
            if ("WATCHDOG", "1") in fields and any(k == "STATUS" for k, _ in fields):
                break
            time.sleep(0.1)
        assert ("WATCHDOG", "1") in fields, fields
        assert any(k == "STATUS" and v.startswith("waiting for source /dev/video97 fps=0.0") for k, v in fields)
    finally:
        monitor.stop()


@dataclass
class StoreState:
    """What the status line reads of the store sink (edge.store.StoreSink's counters and fault)."""

    events_committed: int
    queued: int
    fault: str | None


def test_the_status_line_names_the_store_and_the_boards_health(tmp_path):
    monitor = ServiceMonitor(Notifier(), ThermalProbe(tmp_path / "none", tmp_path / "none", vcgencmd=None))
    monitor.waiting = None
    monitor.attach(None, StoreState(events_committed=12, queued=3, fault="disk full"))
    monitor.health = Health(temp_c=71.5, throttled=0)
    assert monitor.line(fps=9.5, faces=2, frames=40) == (
        "fps=9.5 faces=2 frames=40 events=12 queued=3 store-fault=disk full temp=71.5C throttled=0x0")
    monitor.attach(None, StoreState(events_committed=12, queued=0, fault=None))
    assert monitor.line(fps=9.5, faces=2, frames=40) == "fps=9.5 faces=2 frames=40 events=12 temp=71.5C throttled=0x0"
