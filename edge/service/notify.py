"""sd_notify over $NOTIFY_SOCKET (sdnotify package): READY=1, WATCHDOG=1, STATUS=..., STOPPING=1.

Off (every call a no-op) when not started by systemd. The watchdog interval follows sd_watchdog_enabled():
$WATCHDOG_USEC, only if $WATCHDOG_PID is unset or names this process; pings go out at half that interval.
"""

from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"
PINGS_PER_INTERVAL = 2
MAX_STATUS_CHARS = 200


def watchdog_interval_s(environ: dict[str, str] | None = None) -> float | None:
    env = os.environ if environ is None else environ
    usec, pid = env.get(WATCHDOG_USEC_ENV), env.get(WATCHDOG_PID_ENV)
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring %s=%r (not an integer)", WATCHDOG_USEC_ENV, usec)
        return None
    return value / 1e6 if value > 0 else None


class Notifier:
    """Thread-safe; remembers what it sent (for the end-of-run log line and tests of the caller)."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get(NOTIFY_SOCKET_ENV))
        self._notifier = None
        if self.enabled:
            import sdnotify

            self._notifier = sdnotify.SystemdNotifier()
            if self._notifier.socket is None:
                log.warning("systemd notify: cannot connect to $%s=%s; not notifying", NOTIFY_SOCKET_ENV,
                            os.environ[NOTIFY_SOCKET_ENV])
                self.enabled, self._notifier = False, None
        self.watchdog_s = watchdog_interval_s() if self.enabled else None
        self._lock = threading.Lock()
        self._last_ping = float("-inf")
        self.ready_sent = False
        self.pings = 0
        log.info("systemd notify: %s%s", "on" if self.enabled else f"off (${NOTIFY_SOCKET_ENV} unset)",
                 f", watchdog every {self.watchdog_s:.1f} s" if self.watchdog_s else "")

    def send(self, *fields: str) -> None:
        if self._notifier is not None:
            with self._lock:
                self._notifier.notify("\n".join(fields))

    def ready(self, status: str) -> None:
        if not self.ready_sent:
            self.ready_sent = True
            self.send("READY=1", f"STATUS={status[:MAX_STATUS_CHARS]}")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text[:MAX_STATUS_CHARS]}")

    def ping_due(self, now: float | None = None) -> bool:
        if self.watchdog_s is None:
            return False
        now = time.monotonic() if now is None else now
        return now - self._last_ping >= self.watchdog_s / PINGS_PER_INTERVAL

    def ping(self) -> None:
        """WATCHDOG=1 if due (cheap to call every frame)."""
        now = time.monotonic()
        if self.ping_due(now):
            self._last_ping = now
            self.pings += 1
            self.send("WATCHDOG=1")

    def stopping(self, status: str) -> None:
        self.send("STOPPING=1", f"STATUS={status[:MAX_STATUS_CHARS]}")
