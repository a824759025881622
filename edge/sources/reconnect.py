"""Reopen a live source (camera, stream) with exponential backoff when it stops delivering frames."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from edge.config import SourceConfig
from edge.errors import EdgeError
from edge.types import Frame, FrameSource

log = logging.getLogger(__name__)
SOURCE_DEFAULTS = SourceConfig()  # the backoff defaults are the config's (`source.backoff_initial_s`, `_max_s`)


class ReconnectingSource:
    """Wraps `factory()`; on a failed read closes the source and reopens it (backoff doubling up to a cap).

    Waits on `cancel` so SIGINT/SIGTERM interrupt a backoff at once; `read` then returns None.
    Frame indices continue across reconnects.
    """

    def __init__(self, factory: Callable[[], FrameSource], backoff_initial_s: float = SOURCE_DEFAULTS.backoff_initial_s,
                 backoff_max_s: float = SOURCE_DEFAULTS.backoff_max_s,
                 cancel: threading.Event | None = None, max_attempts: int | None = None,
                 first: FrameSource | None = None) -> None:
        self._factory = factory
        self._initial, self._max = backoff_initial_s, backoff_max_s
        self._cancel = cancel or threading.Event()
        self._max_attempts = max_attempts
        self._source: FrameSource | None = first if first is not None else factory()
        self.name = self._source.name
        self._index = 0
        self._failures = 0
        self._closed = False
        self.reconnects = 0
        self.backing_off = False  # only while waiting between attempts: a watchdog may accept that, not a hung reopen

    @property
    def reconnecting(self) -> bool:
        """True while the source is closed and being reopened: the backoff and the reopen itself (which may hang;
        a watchdog should accept `backing_off` only)."""
        return self._source is None and not self._closed

    def _reopen(self) -> bool:
        """Backoff, then try to reopen; `_failures` counts attempts since the last delivered frame."""
        while not self._cancel.is_set():
            self._failures += 1
            if self._max_attempts is not None and self._failures > self._max_attempts:
                log.error("%s: giving up after %d reconnect attempts", self.name, self._failures - 1)
                return False
            delay = min(self._max, self._initial * 2 ** (self._failures - 1))
            log.warning("%s stopped delivering frames; reopening in %.1f s (attempt %d)", self.name, delay, self._failures)
            self.backing_off = True
            try:
                cancelled = self._cancel.wait(delay)
            finally:
                self.backing_off = False
            if cancelled:
                return False
            try:
                self._source = self._factory()
            except EdgeError as exc:
                log.warning("%s: reopen failed: %s", self.name, exc)
                continue
            self.reconnects += 1
            log.info("%s reopened after %d attempt(s)", self.name, self._failures)
            return True
        return False

    def read(self) -> Frame | None:
        while not self._cancel.is_set():
            frame = self._source.read() if self._source is not None else None
            if frame is not None:
                self._failures = 0
                frame = replace(frame, index=self._index)
                self._index += 1
                return frame
            if self._source is not None:
                ended = getattr(self._source, "ended", False)
                self._source.close()
                self._source = None
                if ended:
                    log.info("%s: end of the file", self.name)
                    return None
            if not self._reopen():
                return None
        return None

    def close(self) -> None:
        self._closed = True
        if self._source is not None:
            self._source.close()
            self._source = None
