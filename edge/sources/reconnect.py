"""Reopen a live source (camera, stream) with exponential backoff when it stops delivering frames.

Logging follows the service's rule for faults (docs/SERVICE.md): a lost source is one WARNING when its frames stop
and one INFO line when they are back; the attempts in between are DEBUG, except a reopen failure with a reason not
seen before in this outage (WARNING, a few at most) and a reminder at a slow, growing interval while it lasts
(REMINDER_AFTER_S, then every REMINDER_EVERY_S)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from edge.config import SourceConfig
from edge.errors import EdgeError
from edge.types import Frame, FrameSource

log = logging.getLogger(__name__)
SOURCE_DEFAULTS = SourceConfig()  # the backoff defaults are the config's (`source.backoff_initial_s`, `_max_s`)
REMINDER_AFTER_S = (60.0, 600.0)  # "still reopening" warnings this long into an outage ...
REMINDER_EVERY_S = 3600.0  # ... then at every whole multiple of this
MAX_REASON_WARNINGS = 3  # reopen-failure reasons warned about per outage; any further new reason is DEBUG
SECONDS_PER_MINUTE, SECONDS_PER_HOUR = 60, 3600
MAX_DOUBLINGS = 64  # the backoff's exponent stops here: 2 ** 1024 overflows a float (attempt 1025, about
# 3 h into an outage at the default 10 s cap, raised OverflowError out of read() and ended the service)
NO_FRAME_AFTER_REOPEN = "reopened, but no frame came"


def describe_duration(seconds: float) -> str:
    """`45 s`, `10 min`, `1 h 0 min`: the length of an outage in a log line."""
    whole = int(seconds)
    if whole < SECONDS_PER_MINUTE:
        return f"{whole} s"
    if whole < SECONDS_PER_HOUR:
        return f"{whole // SECONDS_PER_MINUTE} min"
    return f"{whole // SECONDS_PER_HOUR} h {whole % SECONDS_PER_HOUR // SECONDS_PER_MINUTE} min"


def reminder_due_s(sent: int) -> float:
    """How long into an outage the reminder after `sent` earlier ones is due: 1 min, 10 min, 1 h, 2 h, ..."""
    if sent < len(REMINDER_AFTER_S):
        return REMINDER_AFTER_S[sent]
    return REMINDER_EVERY_S * (sent - len(REMINDER_AFTER_S) + 1)


@dataclass
class Outage:
    """One stretch without frames: from the failed read until the next delivered frame (reopens included)."""

    started: float
    reminders: int = 0
    reasons: set[str] = field(default_factory=set)
    last_reason: str | None = None

    def new_reason(self, reason: str) -> bool:
        """True the first time `reason` fails a reopen in this outage, for at most MAX_REASON_WARNINGS reasons."""
        self.last_reason = reason
        if reason in self.reasons or len(self.reasons) >= MAX_REASON_WARNINGS:
            return False
        self.reasons.add(reason)
        return True

    def reminder_due(self, now: float) -> bool:
        """True when a reminder is due; skips any further ones already passed (one line after a long backoff)."""
        lost = now - self.started
        if lost < reminder_due_s(self.reminders):
            return False
        while lost >= reminder_due_s(self.reminders):
            self.reminders += 1
        return True


class ReconnectingSource:
    """Wraps `factory()`; on a failed read closes the source and reopens it (backoff doubling up to a cap).

    Waits on `cancel` so SIGINT/SIGTERM interrupt a backoff at once; `read` then returns None.
    Frame indices continue across reconnects. `clock` (monotonic seconds) times an outage for its log lines.
    """

    def __init__(self, factory: Callable[[], FrameSource], backoff_initial_s: float = SOURCE_DEFAULTS.backoff_initial_s,
                 backoff_max_s: float = SOURCE_DEFAULTS.backoff_max_s,
                 cancel: threading.Event | None = None, max_attempts: int | None = None,
                 first: FrameSource | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._factory = factory
        self._initial, self._max = backoff_initial_s, backoff_max_s
        self._cancel = cancel or threading.Event()
        self._max_attempts = max_attempts
        self._clock = clock
        self._source: FrameSource | None = first if first is not None else factory()
        self.name = self._source.name
        self._index = 0
        self._failures = 0
        self._outage: Outage | None = None
        self._closed = False
        self.reconnects = 0
        self.backing_off = False  # only while waiting between attempts: a watchdog may accept that, not a hung reopen

    @property
    def reconnecting(self) -> bool:
        """True while the source is closed and being reopened: the backoff and the reopen itself (which may hang;
        a watchdog should accept `backing_off` only)."""
        return self._source is None and not self._closed

    def _backoff(self, why: str | None = None) -> bool:
        """Count an attempt and wait its backoff; False when cancelled or out of attempts. `why`: the source's
        own reason for its failed read (`last_failure`), if it gave one."""
        self._failures += 1
        if self._max_attempts is not None and self._failures > self._max_attempts:
            log.error("%s: giving up after %d reconnect attempts", self.name, self._failures - 1)
            return False
        delay = min(self._max, self._initial * 2 ** min(self._failures - 1, MAX_DOUBLINGS))
        level = logging.WARNING if self._failures == 1 else logging.DEBUG  # the outage's first line only
        log.log(level, "%s stopped delivering frames%s; reopening in %.1f s (attempt %d)", self.name,
                f" ({why})" if why else "", delay, self._failures)
        self.backing_off = True
        try:
            return not self._cancel.wait(delay)
        finally:
            self.backing_off = False

    def _reopen_failed(self, outage: Outage, exc: EdgeError) -> None:
        reason = str(exc)
        level = logging.WARNING if outage.new_reason(reason) else logging.DEBUG
        log.log(level, "%s: reopen failed: %s", self.name, reason)

    def _read_failed(self, outage: Outage, why: str) -> None:
        """The source's reason for a failed read, counted as the outage's reasons are: the first one goes in the
        outage's first line (_backoff); after a reopen, one not seen before in this outage is a WARNING of its own
        (as a reopen failure's), a repeated one DEBUG."""
        new = outage.new_reason(why)  # also what a reminder names, until something else fails
        if self._failures:
            log.log(logging.WARNING if new else logging.DEBUG, "%s: reopened, then %s", self.name, why)

    def _remind(self, outage: Outage) -> None:
        """The slow reminder that the source is still lost (after a failed reopen, or one that gave no frame)."""
        now = self._clock()
        if self._failures and outage.reminder_due(now):
            log.warning("%s: still reopening (lost %s, %d attempts; last: %s)", self.name,
                        describe_duration(now - outage.started), self._failures,
                        outage.last_reason or NO_FRAME_AFTER_REOPEN)

    def _reopen(self, why: str | None = None) -> bool:
        """Backoff, then try to reopen; `_failures` counts attempts since the last delivered frame. `why`: the
        closed source's reason for its failed read, shown with the outage's first line."""
        if self._outage is None:
            self._outage = Outage(started=self._clock())
        if why:
            self._read_failed(self._outage, why)
        while not self._cancel.is_set():
            self._remind(self._outage)
            if not self._backoff(why):
                return False
            why = None
            try:
                self._source = self._factory()
            except EdgeError as exc:
                self._reopen_failed(self._outage, exc)
                continue
            self._outage.last_reason = None
            self.reconnects += 1
            log.debug("%s: reopened (attempt %d); waiting for a frame", self.name, self._failures)
            return True
        return False

    def _delivered(self, frame: Frame) -> Frame:
        if self._outage is not None:  # the one line when it is back
            log.info("%s reopened after %d attempt(s) (no frames for %s)", self.name, self._failures,
                     describe_duration(self._clock() - self._outage.started))
            self._outage = None
        self._failures = 0
        frame = replace(frame, index=self._index)
        self._index += 1
        return frame

    def read(self) -> Frame | None:
        while not self._cancel.is_set():
            frame = self._source.read() if self._source is not None else None
            if frame is not None:
                return self._delivered(frame)
            why = None
            if self._source is not None:
                ended = getattr(self._source, "ended", False)
                why = getattr(self._source, "last_failure", None)
                self._source.close()
                self._source = None
                if ended:
                    log.info("%s: end of the file", self.name)
                    return None
            if not self._reopen(why):
                return None
        return None

    def close(self) -> None:
        self._closed = True
        if self._source is not None:
            self._source.close()
            self._source = None
