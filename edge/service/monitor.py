"""ServiceSink (on the pipeline thread: READY=1, WATCHDOG=1, STATUS=) and the monitor thread that keeps
systemd informed while the loop legitimately waits (camera missing at start, camera reconnecting)."""

from __future__ import annotations

import logging
import threading
import time

from edge.service.notify import Notifier
from edge.service.thermal import Health, ThermalProbe
from edge.sinks.base import BaseSink
from edge.types import FrameResult

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 5.0  # STATUS= at most this often (and on the first frame)
HEALTH_INTERVAL_S = 10.0  # temperature / throttling refresh
LOG_STATUS_INTERVAL_S = 600.0  # the status line also goes to the journal this often
MONITOR_TICK_S = 1.0


def source_backing_off(source) -> bool:  # noqa: ANN001 - any FrameSource
    """True while a live source waits between reopen attempts after a lost camera (a wait, not a hang); False
    during a reopen itself, so a reopen that hangs stops the watchdog pings like a hung read."""
    return bool(getattr(source, "backing_off", False))  # edge.sources.reconnect.ReconnectingSource


class ServiceMonitor:
    """Owns the notifier, the health probe and the state behind the status line."""

    def __init__(self, notifier: Notifier, probe: ThermalProbe | None = None) -> None:
        self.notifier, self.probe = notifier, probe or ThermalProbe()
        self.health = Health()
        self.waiting: str | None = "starting"  # why the loop is not producing frames (None = it is)
        self.source = None
        self.store = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="service-monitor", daemon=True)
        self._next_health = 0.0

    def start(self) -> None:
        self._refresh_health()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def attach(self, source, store) -> None:  # noqa: ANN001 - FrameSource, StoreSink | None
        self.source, self.store = source, store

    def _refresh_health(self) -> None:
        now = time.monotonic()
        if now >= self._next_health:
            self.health = self.probe.read()
            self._next_health = now + HEALTH_INTERVAL_S

    def _loop(self) -> None:
        while not self._stop.wait(MONITOR_TICK_S):
            self._refresh_health()
            if self.source is not None:  # running: a reconnect backoff is a legitimate pause, a hung read or reopen not
                legitimate = source_backing_off(self.source)
                if legitimate:
                    self.waiting = f"camera lost ({self.source.name}): reconnecting"
            else:  # before the pipeline exists: loading models, waiting for the camera
                legitimate = self.waiting is not None
            if legitimate:
                self.notifier.ping()
                self.notifier.status(self.line(fps=0.0, faces=0, frames=None))

    def line(self, fps: float, faces: int, frames: int | None) -> str:
        parts = [self.waiting] if self.waiting else []
        parts.append(f"fps={fps:.1f} faces={faces}")
        if frames is not None:
            parts.append(f"frames={frames}")
        store = self.store
        if store is not None:
            parts.append(f"events={store.events_committed}")
            if store.queued:  # not yet committed: a few between commits are normal; a growing count is not
                parts.append(f"queued={store.queued}")
            if store.fault:
                parts.append(f"store-fault={store.fault}")
        health = self.health.describe()
        if health:
            parts.append(health)
        return " ".join(parts)


class ServiceSink(BaseSink):
    """The main loop's heartbeat: every processed frame may ping the watchdog; READY=1 after the first."""

    def __init__(self, monitor: ServiceMonitor) -> None:
        self.monitor = monitor
        self.frames = 0
        self._next_status = 0.0
        self._next_log = 0.0

    def write(self, result: FrameResult) -> None:
        monitor, notifier = self.monitor, self.monitor.notifier
        self.frames += 1
        if monitor.waiting is not None:
            if self.frames > 1:
                log.info("frames flowing again (%s)", monitor.waiting)
            monitor.waiting = None
            self._next_status = 0.0
        notifier.ping()
        now = time.monotonic()
        if now < self._next_status:
            return
        self._next_status = now + STATUS_INTERVAL_S
        line = monitor.line(result.fps, len(result.faces), self.frames)
        if not notifier.ready_sent:
            notifier.ready(line)
            log.info("service ready: %s", line)
            self._next_log = now + LOG_STATUS_INTERVAL_S
        else:
            notifier.status(line)
        if now >= self._next_log:
            self._next_log = now + LOG_STATUS_INTERVAL_S
            log.info("status: %s", line)
