"""What tells this program's event store from any other SQLite database: its schema version and tables.

Schema (user_version 1):
    sessions(id, started, pid, host)          one row per process that opened the store (restarts append)
    events(id, ts, session_id, track_id, label, confidence, x1, y1, x2, y2, probs, source)
Another program's SQLite database at the store's path (user_version 0 with tables, or a schema version this
program knows without its `events` table) is refused and left exactly as it is, never converted.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge.errors import EdgeError

SCHEMA_VERSION = 1
EVENT_COLUMNS = frozenset({"id", "ts", "session_id", "track_id", "label", "confidence", "x1", "y1", "x2", "y2",
                           "probs", "source"})
FOREIGN_HINT = "left untouched: point store.path at a new or existing events .db file"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, session_id INTEGER NOT NULL, track_id INTEGER NOT NULL,
    label TEXT NOT NULL, confidence REAL NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
    x2 INTEGER NOT NULL, y2 INTEGER NOT NULL, probs TEXT NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
"""

Schema = tuple[int, set[str], set[str]]  # user_version, table (and view) names, the columns of `events`


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
