"""Rate-limited logging of rejected web requests: a browser tab left open after a token change polls once a second,
a flood of bad requests may come from anywhere, and neither may fill the journal.

The first rejection of a kind (a reason, plus the client address when the reason's line names it) is logged in full;
further ones of that kind are counted and summed up in at most one line per REPORT_INTERVAL_S. A kind quiet for a
whole interval is forgotten, so its next rejection is logged in full again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

REPORT_INTERVAL_S = 60.0  # at most one summary line per kind this often
MAX_KINDS = 64  # kinds tracked at once; rejections of further kinds are counted under their reason alone
MAX_FULL_LINES = 10  # full lines per interval: a scan from ever new addresses is counted, not logged line by line
OTHER_CLIENTS = "other clients"  # the client shown for those

Kind = tuple[str, str | None]  # (reason, client address or None)


@dataclass
class _Count:
    since: float  # start of the current interval
    more: int = 0  # rejections since the line or summary that started it, not yet logged


class RejectionLog:
    """Thread-safe (requests are served on many threads); memory bounded by MAX_KINDS (+1 per reason)."""

    def __init__(self, interval_s: float = REPORT_INTERVAL_S, max_kinds: int = MAX_KINDS,
                 clock: Callable[[], float] = time.monotonic, max_full_lines: int = MAX_FULL_LINES) -> None:
        self.interval_s, self.max_kinds, self._clock = interval_s, max_kinds, clock
        self.max_full_lines = max_full_lines
        self._counts: dict[Kind, _Count] = {}
        self._full_lines: list[float] = []  # when each full line of the last interval was logged
        self._lock = threading.Lock()

    def rejected(self, reason: str, client: str | None, message: str, *args: object) -> None:
        """One rejection: `message % args` is logged (INFO) if it is the first of its kind, else it is counted."""
        now = self._clock()
        with self._lock:
            summaries = self._due(now)
            kind: Kind = (reason, client)
            self._full_lines = [at for at in self._full_lines if now - at < self.interval_s]
            crowded = len(self._counts) >= self.max_kinds or len(self._full_lines) >= self.max_full_lines
            if kind not in self._counts and crowded:
                kind = (reason, OTHER_CLIENTS if client is not None else None)
            count = self._counts.get(kind)
            if count is None:
                self._counts[kind] = _Count(now)
                self._full_lines.append(now)
            else:
                count.more += 1
        self._log(summaries)
        if count is None:
            log.info(message, *args)

    @property
    def tracked(self) -> int:
        """Kinds held in memory now (at most max_kinds, plus one "other clients" kind per reason)."""
        with self._lock:
            return len(self._counts)

    def flush(self) -> None:
        """Log the summaries that are due (the server calls this between requests, so none waits for a request)."""
        now = self._clock()
        with self._lock:
            summaries = self._due(now)
        self._log(summaries)

    def close(self) -> None:
        """Log every count not yet logged, due or not."""
        now = self._clock()
        with self._lock:
            summaries = [(kind, count.more, now - count.since) for kind, count in self._counts.items() if count.more]
            self._counts.clear()
        self._log(summaries)

    def _due(self, now: float) -> list[tuple[Kind, int, float]]:
        """Under the lock: the (kind, count, seconds) of every interval that has ended; quiet kinds are dropped."""
        summaries = []
        for kind, count in list(self._counts.items()):
            if now - count.since < self.interval_s:
                continue
            if count.more:
                summaries.append((kind, count.more, now - count.since))
                self._counts[kind] = _Count(now)
            else:
                del self._counts[kind]
        return summaries

    @staticmethod
    def _log(summaries: list[tuple[Kind, int, float]]) -> None:
        for (reason, client), more, seconds in summaries:
            source = f" from {client}" if client is not None else ""
            log.info("web: %d more request%s%s rejected (%s) in the last %.0f s", more, "" if more == 1 else "s",
                     source, reason, seconds)
