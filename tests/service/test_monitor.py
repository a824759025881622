"""While a lost camera is being reopened the loop legitimately waits: the monitor keeps systemd informed."""

from __future__ import annotations

import threading
import time

from edge.errors import EdgeError
from edge.service.monitor import ServiceMonitor, source_reconnecting
from edge.service.notify import Notifier
from edge.service.thermal import ThermalProbe
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
    assert source.read() is not None and not source_reconnecting(source)
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
        assert source_reconnecting(source)
        assert ("WATCHDOG", "1") in fields, fields
        assert any(k == "STATUS" and v.startswith("camera lost (demo): reconnecting fps=0.0") for k, v in fields)
    finally:
        cancel.set()
        reader.join()
        monitor.stop()
