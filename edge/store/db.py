"""The SQLite event store: WAL journal, one transaction per batch, retention by age and size.

Schema (user_version 1):
    sessions(id, started, pid, host)          one row per process that opened the store (restarts append)
    events(id, ts, session_id, track_id, label, confidence, x1, y1, x2, y2, probs, source)
`probs` is the JSON object of the event contract (docs/CONTRACTS.md). Only the writer (StoreSink's thread)
uses an EventStore; readers (reports) open their own read-only connection with `open_readonly`.

Another program's SQLite database at the store's path (user_version 0 with tables, or a schema version this
program knows without its `events` table) is refused and left exactly as it is, never converted.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path

from edge.errors import EdgeError, checked

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 2000  # wait this long for another connection's lock before reporting "locked"
SYNCHRONOUS = "FULL"  # WAL + FULL: a committed batch survives power loss too (one fsync per commit, <= 1/s)
PRUNE_CHUNK = 5000  # rows deleted per statement when shrinking to the size limit
SIZE_HEADROOM = 0.9  # prune to this fraction of max_mb so pruning is not triggered again at once
CORRUPT_NAMES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
SIDE_FILES = ("-wal", "-shm")
EVENT_COLUMNS = frozenset({"id", "ts", "session_id", "track_id", "label", "confidence", "x1", "y1", "x2", "y2",
                           "probs", "source"})
FOREIGN_HINT = "left untouched: point store.path at a new or existing events .db file"
SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_HEADER_BYTES = 100
USER_VERSION_OFFSET = 60  # PRAGMA user_version: 4 bytes, big-endian, in the database header
SNIFF_BYTES = 4096  # enough of a file's head to tell text from a database page
SECONDS_PER_DAY = 86400.0
BYTES_PER_MB = 1024 * 1024
# The service's store lies under /var/lib/private (mode 0700, StateDirectory= with DynamicUser=): only root gets in.
SUDO_HINT = "run with sudo (the service's store is readable by root only)"
# Python 3.12+ can tell SQLite not to checkpoint at close; older ones rely on SQLite skipping that for a database
# file that was unlinked or renamed while open (the unix VFS checks the path's inode at close).
NO_CHECKPOINT_ON_CLOSE = getattr(sqlite3, "SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE", None)

FileId = tuple[int, int]  # (st_dev, st_ino): which file a path names
Schema = tuple[int, set[str], set[str]]  # user_version, table (and view) names, the columns of `events`

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, session_id INTEGER NOT NULL, track_id INTEGER NOT NULL,
    label TEXT NOT NULL, confidence REAL NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
    x2 INTEGER NOT NULL, y2 INTEGER NOT NULL, probs TEXT NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
"""
INSERT = ("INSERT INTO events (ts, session_id, track_id, label, confidence, x1, y1, x2, y2, probs, source) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
COLUMNS = "ts, track_id, x1, y1, x2, y2, label, confidence, probs, source"


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


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def event_row(event: dict, session_id: int) -> tuple:
    """A contract event dict (edge.sinks.events.face_event) -> an INSERT parameter tuple."""
    x1, y1, x2, y2 = event["box"]
    return (event["ts"], session_id, event["track_id"], event["label"], event["confidence"], x1, y1, x2, y2,
            json.dumps(event["probs"], separators=(",", ":")), event["source"])


def row_event(row: Sequence) -> dict:
    """A SELECT COLUMNS row -> the contract event dict."""
    ts, track_id, x1, y1, x2, y2, label, confidence, probs, source = row
    return {"ts": ts, "track_id": track_id, "box": [x1, y1, x2, y2], "label": label, "confidence": confidence,
            "probs": json.loads(probs), "source": source}


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


def file_id(path: Path) -> FileId | None:
    """The identity of the file `path` names now, None when nothing is there (or its folder is gone)."""
    try:
        status = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return status.st_dev, status.st_ino


def read_schema(conn: sqlite3.Connection) -> Schema:
    """What tells an event store from another program's database; may raise sqlite3.Error (not a database)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    columns = {r[0] for r in conn.execute("SELECT name FROM pragma_table_info('events')")}
    return version, tables, columns


def foreign_schema(schema: Schema) -> str | None:
    """Why a database is not an event store (another program's), None for an event store or a database without
    tables (a new store). A newer schema version is not judged here: the caller reports it."""
    version, tables, columns = schema
    if version > SCHEMA_VERSION or (version > 0 and EVENT_COLUMNS <= columns) or (version == 0 and not tables):
        return None
    if "events" in tables and version > 0:
        missing = ", ".join(sorted(EVENT_COLUMNS - columns))
        return f"schema version {version}, table events without the columns {missing}"
    return f"schema version {version}, tables {sorted(tables)}"


def not_an_event_store(path: Path, reason: str) -> EdgeError:
    return EdgeError(f"store {path}", f"not an event store ({reason}); {FOREIGN_HINT}")


def peek_schema(path: Path) -> Schema | None:
    """read_schema of the file at `path` read as immutable: without a lock and without creating a file beside it;
    None when SQLite cannot read it (a damaged file, which the sink moves aside and replaces).

    Not `mode=ro` alone: on a cleanly stopped store (WAL mode, no -wal) that creates -wal and -shm and leaves them
    behind, owned by root under `sudo ... --check-config`, where the service's user could not open them. As
    immutable, SQLite reads the main file only, not a running writer's WAL: the state at the last checkpoint,
    which is an event store (or still empty) whenever the file is one, since the schema is created in one
    transaction. A checkpoint running meanwhile can at worst make the read fail: then nothing is refused."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return None
    try:
        return read_schema(conn)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def is_text_file(path: Path) -> bool:
    """True for an existing, non-empty file whose head is UTF-8 text without NUL bytes (a config, a log, a CSV).

    A database whose pages are damaged is binary and is quarantined and replaced; a text file at store.path is a
    wrong path, so it is refused and left exactly as it is."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return False  # missing, a folder or unreadable: opening the store reports it
    if not head or head.startswith(SQLITE_HEADER) or b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)  # a cut multibyte character is fine
    except UnicodeDecodeError:
        return False
    return True


def ensure_folder(path: Path) -> None:
    """The store's folder exists and is writable and `path` passes check_store_file, else EdgeError (a
    configuration problem, reported before the run starts)."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeError(f"store {path}", f"cannot create folder {folder} ({describe_error(exc)})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EdgeError(f"store {path}", f"folder {folder} is not writable")
    check_store_file(path)


def check_store_file(path: Path) -> None:
    """EdgeError when `path` can never be this program's store, however often it is retried: a folder, a text
    file, a file this user may not write, a store of a newer schema, another program's SQLite database.
    Read-only checks that create nothing (--check-config runs them, also while the service writes the store)."""
    thing = f"store {path}"
    if checked(thing, path.is_dir, SUDO_HINT):
        raise EdgeError(thing, f"is a folder; point store.path at a file in it, e.g. {path / 'events.db'}")
    if not checked(thing, path.exists, SUDO_HINT):
        return
    if is_text_file(path):
        raise EdgeError(thing, "is a text file, not an SQLite database; left untouched: point store.path at "
                               "a new or existing .db file")
    if not os.access(path, os.R_OK | os.W_OK):
        raise EdgeError(thing, f"not readable and writable by this user (uid {os.getuid()}); chown it to the user "
                               "that runs this, or point store.path elsewhere")
    try:
        with path.open("rb") as handle:
            header = handle.read(SQLITE_HEADER_BYTES)
    except OSError as exc:
        raise EdgeError(thing, f"cannot read ({describe_error(exc)})") from None
    if header.startswith(SQLITE_HEADER) and len(header) == SQLITE_HEADER_BYTES:
        version = int.from_bytes(header[USER_VERSION_OFFSET:USER_VERSION_OFFSET + 4], "big", signed=True)
        if version > SCHEMA_VERSION:
            raise EdgeError(thing, f"schema version {version} is newer than this program ({SCHEMA_VERSION}); "
                                   "update the program or point store.path elsewhere")
        schema = peek_schema(path)
        reason = foreign_schema(schema) if schema is not None else None
        if reason is not None:
            raise not_an_event_store(path, reason)


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
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        return (pages - free) * page_size

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM events").fetchone()[0])

    def prune(self, retention: Retention, now: float | None = None) -> PruneResult:
        """Delete events older than the age limit, then the oldest ones until under the size limit."""
        now = time.time() if now is None else now
        by_age = by_size = 0
        if retention.days is not None:
            with self.transaction():
                by_age = self.conn.execute("DELETE FROM events WHERE ts < ?",
                                           (now - retention.days * SECONDS_PER_DAY,)).rowcount
        if retention.max_mb is not None and self.used_bytes() > retention.max_mb * BYTES_PER_MB:
            by_size = self._prune_to(retention.max_mb * BYTES_PER_MB * SIZE_HEADROOM)
        if by_age or by_size:
            # one step of this pragma frees one page: executescript runs it to the end (the file shrinks)
            self.conn.executescript("PRAGMA incremental_vacuum;")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return PruneResult(by_age, by_size)

    def _prune_to(self, target_bytes: float) -> int:
        """Delete the oldest events, in chunks, until the used pages fit in target_bytes; returns how many."""
        deleted = 0
        while self.used_bytes() > target_bytes:
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
        not), renamed, or another file moved onto it. One stat call."""
        return file_id(self.path) != self.file_ids[self.path]

    def abandon(self) -> None:
        """Close the connection to a file that was deleted or replaced, without checkpointing into it, and remove
        its WAL and shared-memory index if they are still at the path: SQLite would otherwise apply the old WAL's
        pages to the file now at the path, or to the next one created there."""
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


def _read_header(path: Path, mode: str) -> tuple[sqlite3.Connection, int, set[str]]:
    """A reader connection opened with the URI parameters `mode`, the schema version and the table names."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        conn.close()
        raise
    return conn, version, tables


def _stopped_in_read_only_folder(path: Path) -> bool:
    """True when no writer is using the store (its WAL is gone, as after a clean stop) and its folder cannot be
    written (read-only media, another user's folder): the only case where reading it as immutable is safe."""
    return not Path(f"{path}-wal").exists() and not os.access(path.parent, os.W_OK)


def open_readonly(path: Path) -> sqlite3.Connection:
    """A reader connection for reports (never creates the file); EdgeError if it is not a usable store."""
    path = Path(path)
    if not checked(f"store {path}", path.is_file, SUDO_HINT):
        raise EdgeError(f"store {path}", "is a folder, not a store file" if path.is_dir() else "no such file")
    try:
        conn, version, tables = _read_header(path, "mode=ro")
    except sqlite3.Error as exc:
        if not _stopped_in_read_only_folder(path):
            raise EdgeError(f"store {path}", f"cannot read ({exc})") from None
        try:  # a cleanly stopped store on read-only media: SQLite cannot create its -shm there
            conn, version, tables = _read_header(path, "mode=ro&immutable=1")
        except sqlite3.Error as exc2:
            raise EdgeError(f"store {path}", f"cannot read ({exc2})") from None
    if version > SCHEMA_VERSION:
        conn.close()
        raise EdgeError(f"store {path}", f"schema version {version} is newer than this program ({SCHEMA_VERSION}); "
                                         "update the program")
    if "events" not in tables or version != SCHEMA_VERSION:
        conn.close()
        raise EdgeError(f"store {path}", f"not an event store (schema version {version}, tables {sorted(tables)})")
    return conn
