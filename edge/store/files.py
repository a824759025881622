"""What is at the store's path, checked before anything opens it (a folder, a text file, a file this user may not
write, a newer schema, another program's database), and the read-only connection reports use.

Every check here only reads: `--check-config` runs them, also while the service writes the store.
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import sqlite3
import stat
from pathlib import Path

from edge.errors import EdgeError, checked
from edge.file_signatures import SQLITE_FORMAT, SQLITE_HEADER, known_format
from edge.store.schema import SCHEMA_VERSION, Schema, foreign_schema, not_an_event_store, read_schema

BUSY_TIMEOUT_MS = 2000  # wait this long for another connection's lock before reporting "locked"
SQLITE_HEADER_BYTES = 100
USER_VERSION_OFFSET = 60  # PRAGMA user_version: 4 bytes, big-endian, in the database header
SNIFF_BYTES = 4096  # enough of a file's head to tell text from a database page
# The service's store lies under /var/lib/private (mode 0700, StateDirectory= with DynamicUser=): only root gets in.
SUDO_HINT = "run with sudo (the service's store is readable by root only)"
FileId = tuple[int, int]  # (st_dev, st_ino): which file a path names
# A read-only mount, also the one the unit's ProtectSystem=strict makes of every folder but its StateDirectory=.
READ_ONLY = "read-only file system"
READ_ONLY_HINT = ("remount it read-write or point store.path elsewhere (the service writes only under "
                  "/var/lib/emotion-edge unless a drop-in adds ReadWritePaths=, docs/SERVICE.md)")
CREATE_ACCESS = os.W_OK | os.X_OK  # what making an entry in a folder needs
MOUNTINFO = Path("/proc/self/mountinfo")
MOUNTINFO_ESCAPE = re.compile(r"\\([0-7]{3})")  # a space in a mount point is \040
MOUNT_POINT_FIELD = 4
LOOKUP_FAILS_FS = frozenset({"proc"})  # mkdir of a new name fails with ENOENT, before any permission check
NO_MKDIR_FS = frozenset({"sysfs", "debugfs", "tracefs", "securityfs", "efivarfs"})  # EPERM, after the permission check


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


def is_read_only(path: Path) -> bool:
    """True when the existing `path` lies on a file system mounted read-only for this process."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _unescape(field: str) -> str:
    return MOUNTINFO_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def _inside(target: str, mount: str) -> bool:
    return mount == "/" or target == mount or target.startswith(mount + "/")


def fs_type(folder: Path) -> str | None:
    """The type of the file system the existing `folder` is on (`ext4`, `proc`), from the innermost mount holding
    it in /proc/self/mountinfo; None when that cannot be read."""
    try:
        target = os.path.realpath(folder)
        lines = MOUNTINFO.read_text(errors="replace").splitlines()
    except OSError:
        return None
    best, kind = "", None
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts = fields.split()
        if len(parts) <= MOUNT_POINT_FIELD or not tail.split():
            continue
        mount = _unescape(parts[MOUNT_POINT_FIELD])
        if _inside(target, mount) and len(mount) >= len(best):  # a later mount on the same point hides the earlier
            best, kind = mount, tail.split()[0]
    return kind


def new_entry_errno(folder: Path) -> int | None:
    """The errno mkdir of a new name in the existing folder `folder` would fail with, in the kernel's order (the
    name's lookup, the mount's read-only flag, the permission check, the file system's mkdir), or None."""
    kind = fs_type(folder)
    if kind in LOOKUP_FAILS_FS:
        return errno.ENOENT
    if is_read_only(folder):
        return errno.EROFS
    if not os.access(folder, CREATE_ACCESS):
        return errno.EACCES
    return errno.EPERM if kind in NO_MKDIR_FS else None


def mkdir_errno(folder: Path) -> int | None:
    """The errno `folder.mkdir(parents=True, exist_ok=True)` would fail with, or None, found without creating
    anything: walks up to the nearest existing ancestor and asks whether a folder could be made in it."""
    path = folder
    while True:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            if os.path.lexists(path):
                return errno.EEXIST  # a symbolic link to nothing
            if path.parent == path:
                return errno.ENOENT
            path = path.parent
            continue
        except OSError as exc:
            return exc.errno  # ENOTDIR: a file on the way; EACCES: a folder on the way that may not be entered
        break
    if not stat.S_ISDIR(info.st_mode):
        return errno.EEXIST if path == folder else errno.ENOTDIR
    return None if path == folder else new_entry_errno(path)


def cannot_create(path: Path, code: int) -> EdgeError:
    problem = f"cannot create folder {path.parent} ({os.strerror(code)})"
    return EdgeError(f"store {path}", f"{problem}; {READ_ONLY_HINT}" if code == errno.EROFS else problem)


def not_writable_folder(path: Path) -> EdgeError:
    folder = path.parent
    if is_read_only(folder):
        return EdgeError(f"store {path}", f"folder {folder} is on a {READ_ONLY}; {READ_ONLY_HINT}")
    return EdgeError(f"store {path}", f"folder {folder} is not writable")


def ensure_folder(path: Path) -> None:
    """The store's folder exists and is writable and `path` passes check_store_file, else EdgeError (a
    configuration problem, reported before the run starts)."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno is None:
            raise EdgeError(f"store {path}", f"cannot create folder {folder} ({describe_error(exc)})") from None
        raise cannot_create(path, exc.errno) from None
    if not os.access(folder, CREATE_ACCESS):
        raise not_writable_folder(path)
    check_store_file(path)


def check_store_path(path: Path) -> None:
    """ensure_folder's errors, found without creating anything (--check-config): the folder that could not be
    made (and why, as mkdir would say it), a folder that is not writable, then check_store_file."""
    path = Path(path)
    code = mkdir_errno(path.parent)
    if code is not None:
        raise cannot_create(path, code)
    if path.parent.is_dir() and not os.access(path.parent, CREATE_ACCESS):
        raise not_writable_folder(path)
    check_store_file(path)


def check_store_file(path: Path) -> None:
    """EdgeError when `path` can never be this program's store, however often it is retried: a folder, a text
    file, a model, image or video (edge.file_signatures; any other file that is not a database is taken for a
    damaged store and moved aside), a file this user may not write, a store of a newer schema, another program's
    SQLite database. Read-only checks that create nothing (--check-config runs them, also while the service writes
    the store)."""
    thing = f"store {path}"
    if checked(thing, path.is_dir, SUDO_HINT):
        raise EdgeError(thing, f"is a folder; point store.path at a file in it, e.g. {path / 'events.db'}")
    if not checked(thing, path.exists, SUDO_HINT):
        return
    if is_text_file(path):
        raise EdgeError(thing, "is a text file, not an SQLite database; left untouched: point store.path at "
                               "a new or existing .db file")
    kind = known_format(path)
    if kind is not None and kind != SQLITE_FORMAT:  # no damaged store begins like a model or a video
        raise EdgeError(thing, f"is {kind}, not an SQLite database; left untouched: point store.path at a new or "
                               "existing .db file")
    if not os.access(path, os.R_OK | os.W_OK):
        if os.access(path, os.R_OK) and is_read_only(path):
            raise EdgeError(thing, f"not writable: {READ_ONLY}; {READ_ONLY_HINT}")
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


def cleanly_stopped(path: Path) -> bool:
    """True when no writer is using the store: a writer keeps its -wal while it has the store open, and the last
    one to close removes it (a clean stop)."""
    return not Path(f"{path}-wal").exists()


def open_readonly(path: Path) -> sqlite3.Connection:
    """A reader connection for reports (never creates the file); EdgeError if it is not a usable store.

    A cleanly stopped store is read as immutable, as peek_schema does: `mode=ro` would create -wal and -shm beside
    it and leave them there, owned by the user who ran the report, where the service's user (the store on a
    group-writable USB stick, SERVICE.md) could not write them, and the service then stored nothing more. On
    read-only media it could not create them at all. A writer that starts while the report reads can at worst make
    this read fail (a checkpoint rewriting the main file): nothing is written either way. A running store is read
    with `mode=ro`, through its writer's WAL."""
    path = Path(path)
    if not checked(f"store {path}", path.is_file, SUDO_HINT):
        raise EdgeError(f"store {path}", "is a folder, not a store file" if path.is_dir() else "no such file")
    if not os.access(path, os.R_OK):
        raise EdgeError(f"store {path}", f"cannot read (permission denied); {SUDO_HINT}")
    if is_text_file(path):  # sqlite would say only "file is not a database"
        raise EdgeError(f"store {path}", "is a text file, not an SQLite event store (an events log such as "
                                         "events.jsonl is read as it is; runs keep a store with --store.enabled true)")
    try:
        conn, version, tables = _read_header(path, "mode=ro&immutable=1" if cleanly_stopped(path) else "mode=ro")
    except sqlite3.Error as exc:
        raise EdgeError(f"store {path}", f"cannot read ({exc})") from None
    if version > SCHEMA_VERSION:
        conn.close()
        raise EdgeError(f"store {path}", f"schema version {version} is newer than this program ({SCHEMA_VERSION}); "
                                         "update the program")
    if "events" not in tables or version != SCHEMA_VERSION:
        conn.close()
        raise EdgeError(f"store {path}", f"not an event store (schema version {version}, tables {sorted(tables)})")
    return conn
