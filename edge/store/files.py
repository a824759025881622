"""What is at the store's path, checked before anything opens it (a folder, a text file, a file this user may not
write, a newer schema, another program's database), and the read-only connection reports use.

Every check here only reads: `--check-config` runs them, also while the service writes the store.
"""

from __future__ import annotations

import codecs
import os
import sqlite3
from pathlib import Path

from edge.errors import EdgeError, checked
from edge.store.schema import SCHEMA_VERSION, Schema, foreign_schema, not_an_event_store, read_schema

BUSY_TIMEOUT_MS = 2000  # wait this long for another connection's lock before reporting "locked"
SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_HEADER_BYTES = 100
USER_VERSION_OFFSET = 60  # PRAGMA user_version: 4 bytes, big-endian, in the database header
SNIFF_BYTES = 4096  # enough of a file's head to tell text from a database page
# The service's store lies under /var/lib/private (mode 0700, StateDirectory= with DynamicUser=): only root gets in.
SUDO_HINT = "run with sudo (the service's store is readable by root only)"
FileId = tuple[int, int]  # (st_dev, st_ino): which file a path names


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def file_id(path: Path) -> FileId | None:
    """The identity of the file `path` names now, None when nothing is there (or its folder is gone)."""
    try:
        status = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return status.st_dev, status.st_ino


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
