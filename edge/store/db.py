"""The SQLite event store: WAL journal, one transaction per batch, retention by age and size.

The schema and how a foreign database is told apart: edge.store.schema; `probs` is the JSON object of the event
contract (docs/CONTRACTS.md). Only the writer (StoreSink's thread) uses an EventStore; readers (reports) open their
own read-only connection with edge.store.files.open_readonly.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path

from edge.errors import EdgeError
from edge.store.files import BUSY_TIMEOUT_MS, FileId, file_id
from edge.store.schema import SCHEMA, SCHEMA_VERSION, foreign_schema, not_an_event_store, read_schema

log = logging.getLogger(__name__)

SYNCHRONOUS = "FULL"  # WAL + FULL: a committed batch survives power loss too (one fsync per commit, <= 1/s)
PRUNE_CHUNK = 5000  # rows deleted per statement (and transaction) when pruning by age or size
SIZE_HEADROOM = 0.9  # prune to this fraction of max_mb so pruning is not triggered again at once
CORRUPT_NAMES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
SIDE_FILES = ("-wal", "-shm")
SECONDS_PER_DAY = 86400.0
BYTES_PER_MB = 1024 * 1024
# Python 3.12+ can tell SQLite not to checkpoint at close; older ones rely on SQLite skipping that for a database
# file that was unlinked or renamed while open (the unix VFS checks the path's inode at close).
NO_CHECKPOINT_ON_CLOSE = getattr(sqlite3, "SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE", None)

INSERT = ("INSERT INTO events (ts, session_id, track_id, label, confidence, x1, y1, x2, y2, probs, source) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
COLUMNS = "ts, track_id, x1, y1, x2, y2, label, confidence, probs, source"  # what a report reads of each event


@dataclass(frozen=True)
class Retention:
    """Keep events at most `days` old and the database at most `max_mb` (None = no limit). The defaults are the
    config's (`store.retention_days`, `store.max_mb`): StoreSink.from_config passes them."""

    days: float | None
    max_mb: float | None


@dataclass(frozen=True)
class Session:
    """One row of `sessions`: the process that writes the store."""

    id: int
    started: float
    pid: int
    host: str


@dataclass(frozen=True)
class PruneResult:
    by_age: int = 0
    by_size: int = 0

    @property
    def total(self) -> int:
        return self.by_age + self.by_size


def is_corruption(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    return name.startswith(CORRUPT_NAMES) or "malformed" in text or "not a database" in text


def event_row(event: dict, session_id: int) -> tuple:
    """A contract event dict (edge.sinks.events.face_event) -> an INSERT parameter tuple."""
    x1, y1, x2, y2 = event["box"]
    return (event["ts"], session_id, event["track_id"], event["label"], event["confidence"], x1, y1, x2, y2,
            json.dumps(event["probs"], separators=(",", ":")), event["source"])


def quarantine(path: Path) -> Path:
    """Move a corrupt database (and its WAL) aside, never deleting it: `<name>.corrupt-<UTC stamp>`, with `-2`,
    `-3`, ... when a store was already moved aside in that second (a failing card can corrupt it again at once)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    copy = 1
    while any(Path(f"{target}{suffix}").exists() for suffix in ("", *SIDE_FILES)):
        copy += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{copy}")
    for suffix in ("", *SIDE_FILES):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.replace(Path(f"{target}{suffix}"))
    return target


class EventStore:
    """One writer connection. Every method may raise sqlite3.Error; the caller decides to retry."""

    def __init__(self, path: Path, session: Session | None = None) -> None:
        """`session`: the process's session when it reopens the store (after a fault), kept instead of a new row."""
        self.path = Path(path)
        self.session = session
        self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                    check_same_thread=False)
        try:
            self._setup()
        except BaseException:
            self.conn.close()
            raise
        # the files this connection has open, recorded once it has written to them (the WAL exists from then on)
        self.file_ids: dict[Path, FileId | None] = {part: file_id(part) for part in self._parts()}

    def _parts(self) -> list[Path]:
        """The database file, then its WAL and shared-memory index."""
        return [self.path, *(Path(f"{self.path}{suffix}") for suffix in SIDE_FILES)]

    def _setup(self) -> None:
        conn = self.conn
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        schema = read_schema(conn)  # reads the header: fails on a non-database
        version = schema[0]
        if version > SCHEMA_VERSION:
            raise EdgeError(f"store {self.path}",
                            f"schema version {version} is newer than this program ({SCHEMA_VERSION})")
        reason = foreign_schema(schema)
        if reason is not None:  # before any change: another program's database keeps its journal mode and pages
            raise not_an_event_store(self.path, reason)
        if version == 0 and not conn.execute("SELECT 1 FROM sqlite_master").fetchone():
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only possible before the first table
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL journal (got {mode})")
        conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        conn.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        self.session = self._session(self.session)

    def _session(self, wanted: Session | None) -> Session:
        """`wanted` again if this file has it or can take its id (a fresh file after a corrupt one was moved
        aside), else a new session row: one process's events stay one session across reopens."""
        conn = self.conn
        if wanted is not None:
            conn.execute("INSERT OR IGNORE INTO sessions (id, started, pid, host) VALUES (?, ?, ?, ?)",
                         (wanted.id, wanted.started, wanted.pid, wanted.host))
            row = conn.execute("SELECT started, pid, host FROM sessions WHERE id = ?", (wanted.id,)).fetchone()
            if row is not None and tuple(row) == (wanted.started, wanted.pid, wanted.host):
                return wanted
        started, pid, host = time.time(), os.getpid(), socket.gethostname()
        rowid = conn.execute("INSERT INTO sessions (started, pid, host) VALUES (?, ?, ?)",
                             (started, pid, host)).lastrowid
        return Session(int(rowid), started, pid, host)

    @property
    def session_id(self) -> int:
        return self.session.id

    def insert(self, events: Iterable[dict]) -> int:
        """All events in one transaction (all or nothing); returns how many."""
        rows = [event_row(e, self.session_id) for e in events]
        with self.transaction():
            self.conn.executemany(INSERT, rows)
        return len(rows)

    def last_id(self) -> int:
        """The newest event row's id (0 for none): the boundary of a clock step (edge.store.clock.Shift)."""
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0])

    def shift_rows(self, delta_s: float, after_id: int, up_to_id: int) -> int:
        """Move this session's events with after_id < id <= up_to_id by delta_s seconds (one transaction)."""
        with self.transaction():
            return self.conn.execute("UPDATE events SET ts = ts + ? WHERE session_id = ? AND id > ? AND id <= ?",
                                     (delta_s, self.session_id, after_id, up_to_id)).rowcount

    def shift_start(self, delta_s: float) -> None:
        """Move this session's start time too (its row in `sessions`)."""
        with self.transaction():
            self.conn.execute("UPDATE sessions SET started = started + ? WHERE id = ?", (delta_s, self.session_id))
        self.session = replace(self.session, started=self.session.started + delta_s)

    def transaction(self):
        return _Transaction(self.conn)

    def used_bytes(self) -> int:
        page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        return (pages - self.free_pages()) * page_size

    def free_pages(self) -> int:
        return int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM events").fetchone()[0])

    def prune(self, retention: Retention, now: float | None = None,
              stop: Callable[[], bool] = lambda: False) -> PruneResult:
        """Delete events older than the age limit, then the oldest ones until under the size limit. `stop()` true
        (the service is stopping) ends either pruning after the current chunk and skips the vacuum: the rest is
        done next time, and the events still queued are written first (a large store on an SD card takes
        seconds)."""
        now = time.time() if now is None else now
        by_age = by_size = 0
        if retention.days is not None:
            by_age = self._prune_older_than(now - retention.days * SECONDS_PER_DAY, stop)
        if retention.max_mb is not None and self.used_bytes() > retention.max_mb * BYTES_PER_MB:
            by_size = self._prune_to(retention.max_mb * BYTES_PER_MB * SIZE_HEADROOM, stop)
        if (by_age or by_size or self.free_pages()) and not stop():  # free pages: a vacuum a stop left undone
            # one step of this pragma frees one page: executescript runs it to the end (the file shrinks)
            self.conn.executescript("PRAGMA incremental_vacuum;")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return PruneResult(by_age, by_size)

    def _prune_older_than(self, cutoff: float, stop: Callable[[], bool]) -> int:
        """Delete the events before `cutoff`, oldest first, in chunks (by the ts index) until none is left or
        stop() after a chunk; returns how many. The first chunk goes even when stopping: a store opened and closed
        at once still loses its old events. A retention first set on a months-old store deletes most of it."""
        deleted = 0
        while True:
            with self.transaction():
                chunk = self.conn.execute(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?)",
                    (cutoff, PRUNE_CHUNK)).rowcount
            deleted += chunk
            if chunk < PRUNE_CHUNK or stop():
                return deleted

    def _prune_to(self, target_bytes: float, stop: Callable[[], bool]) -> int:
        """Delete the oldest events, in chunks, until the used pages fit in target_bytes or stop(); returns how
        many."""
        deleted = 0
        while self.used_bytes() > target_bytes and not stop():
            rows = self.count()
            if rows == 0:
                break
            per_row = self.used_bytes() / rows
            excess = int((self.used_bytes() - target_bytes) / max(per_row, 1.0)) + 1
            with self.transaction():
                deleted += self.conn.execute(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY ts LIMIT ?)",
                    (min(excess, PRUNE_CHUNK),)).rowcount
        return deleted

    def replaced(self) -> bool:
        """True when the path no longer names the file this connection has open: deleted (with its folder or
        not), renamed, or another file moved onto it. One stat call; a path that cannot be looked at now (EACCES,
        EIO) counts as not replaced: the open connection still writes, and a real fault shows when it fails."""
        try:
            return file_id(self.path) != self.file_ids[self.path]
        except OSError as exc:
            log.debug("store %s: cannot check the path (%s)", self.path, exc)
            return False

    def abandon(self) -> None:
        """Close the connection to a file that was deleted or replaced, and remove its WAL and shared-memory index
        if they are still at the path: SQLite would otherwise apply the old WAL's pages to the file now at the
        path, or to the next one created there. Its WAL is checkpointed into it first, through the open file
        descriptors: a store renamed aside (events.db -> events-old.db, whose WAL keeps the old name) then holds
        every event committed to it; a deleted one takes them with it either way."""
        with suppress(sqlite3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if NO_CHECKPOINT_ON_CLOSE is not None and hasattr(self.conn, "setconfig"):
            with suppress(sqlite3.Error):
                self.conn.setconfig(NO_CHECKPOINT_ON_CLOSE, True)
        with suppress(sqlite3.Error):
            self.conn.close()
        for part in self._parts()[1:]:
            if self.file_ids[part] is not None and file_id(part) == self.file_ids[part]:
                with suppress(OSError):
                    part.unlink()

    def close(self) -> None:
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # fold the WAL back in on a clean exit
        except sqlite3.Error as exc:
            log.debug("checkpoint at close failed: %s", exc)
        self.conn.close()


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001 - context manager protocol
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error as rollback_exc:
                log.debug("rollback failed: %s", rollback_exc)


