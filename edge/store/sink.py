"""StoreSink: events -> bounded in-memory queue -> a writer thread that commits a batch at least once a second.

Faults (locked, full or read-only database, vanished folder) keep the events queued and retry with backoff;
each fault episode is logged once when it starts and once when it heals. A corrupt database is moved aside
(never deleted) and a fresh one started. A store file deleted or replaced while open is noticed before the next
commit (SQLite would go on writing to the deleted file): the store is reopened at its path, its folder made
again. Only a queue overflow during a long fault drops events (oldest first, counted and logged); at close,
events that still cannot be stored are written to the log (journal).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from edge.errors import EdgeError
from edge.file_signatures import SQLITE_FORMAT, known_format
from edge.sinks.base import BaseSink
from edge.store.clock import ClockWatch, Shift, stamped_before
from edge.sinks.events import EventThrottle
from edge.store.db import EventStore, PruneResult, Retention, Session, is_corruption, quarantine
from edge.store.files import describe_error, ensure_folder
from edge.types import FrameResult

if TYPE_CHECKING:
    from edge.config import StoreConfig

log = logging.getLogger(__name__)

BATCH_EVENTS = 500  # commit early when this many events are queued
QUEUE_LIMIT = 20_000  # events held in memory while the store is failing (~10 MB)
RETRY_INITIAL_S = 1.0
RETRY_MAX_S = 30.0
PRUNE_INTERVAL_S = 600.0
SHIFT_CHUNK = 5000  # rows moved per transaction after a clock step
CLOSE_ATTEMPTS = 3
DEFAULT_NAME = "events.db"
STATE_DIRECTORY_ENV = "STATE_DIRECTORY"


class StoreSink(BaseSink):
    """Drop-in sink for the SQLite store. `write` only enqueues; the thread does all I/O."""

    def __init__(self, path: Path, interval_s: float = 1.0, retention: Retention | None = None,
                 commit_interval_s: float | None = None, queue_limit: int = QUEUE_LIMIT,
                 prune_interval_s: float = PRUNE_INTERVAL_S, by_track: bool = True) -> None:
        self.path = Path(path)
        ensure_folder(self.path)  # a folder we can never write is a configuration error: fail before the run
        if retention is None or commit_interval_s is None:  # the config's defaults (imported late: pydantic
            from edge.config import StoreConfig  # would slow `edge report`, which reads the store only)

            defaults = StoreConfig()
            if retention is None:
                retention = Retention(defaults.retention_days, defaults.max_mb)
            if commit_interval_s is None:
                commit_interval_s = defaults.commit_interval_s
        self.retention, self.commit_interval_s = retention, commit_interval_s
        self.prune_interval_s = prune_interval_s
        self._throttle = EventThrottle(interval_s, by_track)
        self._queue: deque[dict] = deque()
        self._queue_limit = queue_limit
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._store: EventStore | None = None
        self._session: Session | None = None  # kept across reopens: one process, one session
        self._clock = ClockWatch()
        self._new_steps: list[float] = []  # clock steps (s) seen by write(), not yet bounded by the writer
        self._shifts: list[Shift] = []  # bounded steps still to apply to committed rows (writer thread only)
        self.clock_steps = self.events_moved = 0
        self._fault: str | None = None
        self._fault_since = 0.0
        self._retry_at = 0.0
        self._retry_delay = RETRY_INITIAL_S
        self._next_prune = 0.0
        self._trimmed = 0  # events dropped from the queue head since the last batch was taken
        self._committed_to_file = 0  # events committed to the file open now (reported if it is deleted)
        self.events_logged = self.events_committed = self.events_dropped = self.events_pruned = 0
        self._try_open()  # a problem here (locked, full, corrupt) is a fault like any other: retried
        self._thread = threading.Thread(target=self._loop, name="store-writer", daemon=True)
        self._thread.start()

    @staticmethod
    def path_for(cfg: StoreConfig, default_dir: Path) -> Path:
        """`store.path`, else events.db in systemd's StateDirectory=, else in `default_dir` (output.dir)."""
        state = os.environ.get(STATE_DIRECTORY_ENV, "").split(":")[0]  # set by systemd's StateDirectory=
        return cfg.path if cfg.path is not None else Path(state or default_dir) / DEFAULT_NAME

    @classmethod
    def from_config(cls, cfg: StoreConfig, interval_s: float, default_dir: Path,
                    by_track: bool = True) -> "StoreSink":
        return cls(cls.path_for(cfg, default_dir), interval_s, Retention(cfg.retention_days, cfg.max_mb),
                   cfg.commit_interval_s, by_track=by_track)

    # --- pipeline side --------------------------------------------------------------------
    def write(self, result: FrameResult) -> None:
        step = self._clock.step()
        if step:
            self._clock_stepped(step)
        events = self._throttle.events(result)
        if not events:
            return
        if step:  # this frame was most likely captured before the step was noticed
            now = self._clock.now()
            events = [{**e, "ts": round(e["ts"] + step, 3)} if stamped_before(e["ts"], step, now) else e
                      for e in events]
        with self._lock:  # the writer thread changes the queue and events_dropped under it too
            self._queue.extend(events)
            self.events_logged += len(events)
            overflow = max(0, len(self._queue) - self._queue_limit)
            for _ in range(overflow):
                self._queue.popleft()
            self._trimmed += overflow
            first_drop = overflow > 0 and self.events_dropped == 0
            self.events_dropped += overflow
            queued = len(self._queue)
        if first_drop:
            log.error("store %s: queue full (%d events) while the store is failing; dropping the oldest",
                      self.path, self._queue_limit)
        if queued >= BATCH_EVENTS:
            self._wake.set()

    def _clock_stepped(self, delta_s: float) -> None:
        """Every event of this run so far was stamped by the clock before the step: the queued ones are replaced
        by moved copies now (a batch being written keeps its own, unmoved, dicts); the committed ones, that batch
        included, are moved in the database by the writer (_bound_steps, then _apply_shifts)."""
        with self._lock:
            self._queue = deque({**event, "ts": round(event["ts"] + delta_s, 3)} for event in self._queue)
            self._new_steps.append(delta_s)
            self.clock_steps += 1
        log.warning("store %s: the wall clock stepped by %+.1f s (NTP on a device without a real-time clock?); "
                    "this run's earlier events are moved by it (lines already in events.jsonl are not)",
                    self.path, delta_s)

    def _bound_steps(self) -> bool:
        """Turn steps seen since the last tick into Shifts bounded by the newest committed row: every row up to
        it was stamped before the step, every later row after it (no batch is being written now, and _flush
        writes nothing while a step is unbounded). False (a fault) if the bound cannot be read."""
        with self._lock:
            steps = list(self._new_steps)
        if not steps:
            return True
        try:
            last_id = self._store.last_id()
            self._store.shift_start(sum(steps))
        except sqlite3.Error as exc:
            self._store_error(exc, "cannot move events after a clock step")
            return False
        with self._lock:
            del self._new_steps[:len(steps)]
        self._session = self._store.session
        self._shifts.extend(Shift(delta, last_id) for delta in steps if last_id)
        return True

    def _apply_shifts(self) -> None:
        """Move committed rows by the bounded steps, SHIFT_CHUNK ids per transaction, so that a long history
        neither holds the write lock for long nor needs the space to rewrite it all at once."""
        while self._shifts and self._store is not None:
            shift = self._shifts[0]
            upper = min(shift.done_to + SHIFT_CHUNK, shift.last_id)
            try:
                moved = self._store.shift_rows(shift.delta_s, shift.done_to, upper)
            except sqlite3.Error as exc:
                self._store_error(exc, "cannot move events after a clock step")
                return
            shift.done_to = upper
            self.events_moved += moved
            if shift.done:
                self._shifts.pop(0)
                log.info("store %s: this run's events up to row %d moved by %+.1f s", self.path, shift.last_id,
                         shift.delta_s)

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def fault(self) -> str | None:
        """The current store problem, None while healthy (for the service status line)."""
        return self._fault

    def describe(self) -> str:
        dropped = f", {self.events_dropped} dropped" if self.events_dropped else ""
        return f"store: {self.path.resolve()} ({self.events_committed} events committed{dropped})"

    # --- writer thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        """Never ends before close(): an unexpected error is logged, counted as a store fault and retried."""
        while not self._closing.is_set():
            self._wake.wait(self.commit_interval_s)
            self._wake.clear()
            try:
                self._tick()
            except Exception as exc:  # noqa: BLE001 - a dead writer would leave every event in memory
                log.exception("store %s: unexpected error in the writer thread; retrying", self.path)
                self._failed(f"unexpected {type(exc).__name__} ({exc})")

    def _tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._fault is not None and now < self._retry_at and not force:
            return
        if self._store is not None and self._store.replaced():
            self._file_lost()
        if self._store is None and not self._try_open():
            return
        if not self._bound_steps():
            return
        self._apply_shifts()
        if self._store is None:
            return
        self._flush()
        if self._store is not None and self._fault is None and now >= self._next_prune:
            self._prune()
            self._next_prune = now + self.prune_interval_s

    def _file_lost(self) -> None:
        """The store file was deleted (alone or with its folder), renamed, or another file moved onto its path
        while open: SQLite would go on writing to the file that is gone. Drop the connection (its WAL folded into
        that file first); _tick then opens the path."""
        log.error("store %s: the store file was deleted, renamed or replaced while open; the %d events this run "
                  "committed to it stay with that file (gone if it was deleted); a new one is started at the path",
                  self.path, self._committed_to_file)
        self._store.abandon()
        self._store = None
        self._shifts.clear()  # the rows they would move are in the old file

    def _recreate_folder(self) -> None:
        """Make the store's folder again if it vanished while running; if it cannot be made, opening the store
        fails and that is the fault reported."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True)
        except OSError:  # FileExistsError as a rule: the folder is there
            return
        log.warning("store %s: its folder %s was gone; created it again", self.path, folder)

    def _try_open(self) -> bool:
        self._recreate_folder()
        try:
            try:
                self._store = EventStore(self.path, self._session)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc):
                    raise
                kind = known_format(self.path)
                if kind is not None and kind != SQLITE_FORMAT:  # a model or video moved onto the path: not ours
                    raise EdgeError(f"store {self.path}",
                                    f"is {kind}, not an SQLite database; left untouched") from None
                moved = quarantine(self.path)
                log.error("store %s: database is corrupt (%s); moved it to %s and started a new one",
                          self.path, exc, moved)
                self._store = EventStore(self.path, self._session)
        except (sqlite3.Error, OSError) as exc:
            self._failed(f"cannot open ({describe_error(exc)})")
            return False
        except EdgeError as exc:
            self._failed(exc.problem)
            return False
        self._session = self._store.session
        self._committed_to_file = 0
        log.info("store %s: open (session %d, WAL)", self.path, self._store.session_id)
        return True

    def _flush(self) -> None:
        with self._lock:
            if self._new_steps:  # a step came after _bound_steps: bound it first (next tick)
                return
            batch = list(self._queue)
            self._trimmed = 0
        if not batch:
            self._healed()
            return
        try:
            self._store.insert(batch)
        except sqlite3.Error as exc:
            self._store_error(exc)
            return
        with self._lock:  # only this batch leaves the queue; overflow may have trimmed part of it already
            trimmed = min(self._trimmed, len(batch))
            for _ in range(len(batch) - trimmed):
                self._queue.popleft()
            self._trimmed -= trimmed
            self.events_dropped -= trimmed  # those were committed after all
        self.events_committed += len(batch)
        self._committed_to_file += len(batch)
        self._healed()

    def _store_error(self, exc: sqlite3.Error, doing: str = "") -> None:
        """A failed write: a corrupt file is moved aside (a fresh one is opened at the next tick), anything else
        is a fault retried with backoff, on a new connection unless the database was only locked."""
        if is_corruption(exc):
            self._drop_store()
            moved = quarantine(self.path)
            self._shifts.clear()  # the rows they would move are in the old file
            log.error("store %s: database became corrupt (%s); moved it to %s", self.path, exc, moved)
            self._failed(f"database became corrupt; starting a new one (old one at {moved.name})")
            self._retry_at = 0.0
            return
        self._failed(f"{doing} ({describe_error(exc)})" if doing else describe_error(exc))
        if "locked" not in str(exc) and "busy" not in str(exc):
            self._drop_store()  # reopen later: the file or folder may have changed underneath

    def _prune(self) -> None:
        try:
            result: PruneResult = self._store.prune(self.retention, stop=self._closing.is_set)
        except sqlite3.Error as exc:
            log.warning("store %s: pruning failed (%s); will retry", self.path, exc)
            return
        if result.total:
            self.events_pruned += result.total
            log.info("store %s: pruned %d old events (age %d, size %d)", self.path, result.total,
                     result.by_age, result.by_size)

    def _failed(self, problem: str) -> None:
        now = time.monotonic()
        if self._fault is None:
            self._fault_since = now
            log.error("store %s: %s; keeping events in memory (up to %d) and retrying", self.path, problem,
                      self._queue_limit)
            self._retry_delay = RETRY_INITIAL_S
        elif problem != self._fault:
            log.error("store %s: %s", self.path, problem)
        else:
            self._retry_delay = min(RETRY_MAX_S, self._retry_delay * 2)
        self._fault = problem
        self._retry_at = now + self._retry_delay

    def _healed(self) -> None:
        if self._fault is not None:
            log.info("store %s: writing again after %.0f s (%d events committed so far, %d dropped)", self.path,
                     time.monotonic() - self._fault_since, self.events_committed, self.events_dropped)
            self._fault = None

    def _drop_store(self) -> None:
        if self._store is not None:
            try:
                self._store.conn.close()
            except sqlite3.Error:
                pass
            self._store = None

    # --- shutdown -------------------------------------------------------------------------
    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self._wake.set()
        self._thread.join()
        for attempt in range(CLOSE_ATTEMPTS):
            try:
                self._tick(force=True)
            except Exception as exc:  # noqa: BLE001 - the queued events must still reach the log below
                log.exception("store %s: unexpected error while closing", self.path)
                self._failed(f"unexpected {type(exc).__name__} ({exc})")
            if not (self._queue or self._new_steps or self._shifts):
                break
            time.sleep(RETRY_INITIAL_S * (attempt + 1))
        if self._new_steps or self._shifts:
            log.error("store %s: this run's events stamped before a clock step could not all be moved (%s); "
                      "their times are off by the step", self.path, self._fault)
        if self._queue:
            log.error("store %s: %d events could not be stored (%s); writing them to the log instead",
                      self.path, len(self._queue), self._fault)
            for event in self._queue:
                log.warning("unstored event: %s", json.dumps(event, separators=(",", ":")))
        if self._store is not None:
            self._store.close()
            self._store = None
