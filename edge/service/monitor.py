"""ServiceSink (on the pipeline thread: READY=1, WATCHDOG=1, STATUS=) and the monitor thread that keeps
systemd informed while the loop legitimately waits (camera missing at start, camera reconnecting).

READY=1 goes out after the first processed frame, or earlier, once the service is up and waits for its camera
(ServiceMonitor.wait_for): a unit that stayed "activating" would hold up multi-user.target, which is ordered after
it (WantedBy=), and with it the end of boot, for as long as the camera is missing."""

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

    def wait_for(self, why: str) -> None:
        """The service is up and waits (`why`: for the camera): READY=1 the first time, STATUS= after that. The
        monitor thread pings the watchdog through the wait (`waiting` is set)."""
        self.waiting = why
        line = self.line(fps=0.0, faces=0, frames=None)
        if self.notifier.ready_sent:
            self.notifier.status(line)
            return
        self.notifier.ready(line)
        log.info("service ready, %s", why)

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
    """The main loop's heartbeat: every processed frame may ping the watchdog; READY=1 after the first (unless the
    service already sent it while waiting for the camera). The status line's fps= is the frames processed since the
    previous line over the time since it (0.0 on the first line, after the start or a wait)."""

    def __init__(self, monitor: ServiceMonitor) -> None:
        self.monitor = monitor
        self.frames = 0
        self._next_status = 0.0
        self._next_log = 0.0
        self._window: tuple[float, int] | None = None  # (time, frames) at the previous status line

    def write(self, result: FrameResult) -> None:
        self.frames += 1
        if self.monitor.waiting is not None:
            self._flowing()
        self.monitor.notifier.ping()
        now = time.monotonic()
        if now < self._next_status:
            return
        self._next_status = now + STATUS_INTERVAL_S
        self._report(self.monitor.line(self._interval_fps(now), len(result.faces), self.frames), now)

    def _flowing(self) -> None:
        """Frames again after a wait (start, camera missing, reconnect): status at once, a new fps interval."""
        if self.frames > 1:
            log.info("frames flowing again (%s)", self.monitor.waiting)
        self.monitor.waiting = None
        self._next_status = 0.0
        self._window = None

    def _interval_fps(self, now: float) -> float:
        """Frames processed in the interval since the previous status line, over its elapsed time; starts the next."""
        start, self._window = self._window, (now, self.frames)
        if start is None or now <= start[0]:
            return 0.0
        return (self.frames - start[1]) / (now - start[0])

    def _report(self, line: str, now: float) -> None:
        notifier = self.monitor.notifier
        if not notifier.ready_sent:
            notifier.ready(line)
            log.info("service ready: %s", line)
        elif self.frames == 1:  # READY=1 went out while the service waited for the camera
            notifier.status(line)
            log.info("first frame: %s", line)
        else:
            notifier.status(line)
            if now < self._next_log:
                return
            log.info("status: %s", line)
        self._next_log = now + LOG_STATUS_INTERVAL_S
