"""Audit of edge/store/schema.py on real SQLite files: what a new store looks like, and databases that only look
like one (version 0 with our very table, a known version without tables, only views) are refused untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.errors import EdgeError
from edge.store import EventStore, StoreSink
from edge.store.files import check_store_file
from edge.store.schema import FOREIGN_HINT

EVENT_DDL = ("CREATE TABLE events (id INTEGER PRIMARY KEY, ts REAL NOT NULL, session_id INTEGER NOT NULL, "
             "track_id INTEGER NOT NULL, label TEXT NOT NULL, confidence REAL NOT NULL, x1 INTEGER NOT NULL, "
             "y1 INTEGER NOT NULL, x2 INTEGER NOT NULL, y2 INTEGER NOT NULL, probs TEXT NOT NULL, "
             "source TEXT NOT NULL)")
DOCUMENTED_COLUMNS = {
    "sessions": ["id", "started", "pid", "host"],
    "events": ["id", "ts", "session_id", "track_id", "label", "confidence", "x1", "y1", "x2", "y2", "probs",
               "source"],
}


def read(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_new_store_has_the_documented_schema_and_an_index_for_retention(tmp_path):
    path = tmp_path / "events.db"
    EventStore(path).close()
    assert read(path, "PRAGMA user_version") == [(1,)]
    for table, names in DOCUMENTED_COLUMNS.items():
        info = read(path, f"PRAGMA table_info('{table}')")  # cid, name, type, notnull, default, pk
        assert [row[1] for row in info] == names
        assert all(row[3] == 1 for row in info if row[5] == 0), f"{table}: a column may be NULL: {info}"
    # retention deletes by age and, over the size limit, the oldest first: neither may sort the whole table
    for query in ("SELECT id FROM events ORDER BY ts LIMIT 10", "SELECT id FROM events WHERE ts < 5"):
        plan = " ".join(str(row[-1]) for row in read(path, f"EXPLAIN QUERY PLAN {query}"))
        assert "INDEX" in plan and "TEMP B-TREE" not in plan, (query, plan)


def make_db(path: Path, version: int, *statements: str) -> bytes:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("version, statements, reason", [
    (0, (EVENT_DDL,), "schema version 0, tables ['events']"),  # our table, but no version: not ours
    (1, (), "schema version 1, tables []"),  # a version we know, without its tables
    (0, ("CREATE VIEW totals AS SELECT 1 AS n",), "schema version 0, tables ['totals']"),  # views only
], ids=["version-0-with-our-events-table", "version-1-without-tables", "only-a-view"])
def test_databases_that_only_look_like_a_store_are_refused_untouched(tmp_path, version, statements, reason):
    path = tmp_path / "other.db"
    before = make_db(path, version, *statements)
    listing = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(EdgeError) as raised:
        StoreSink(path)
    assert raised.value.one_line() == f"error: store {path}: not an event store ({reason}); {FOREIGN_HINT}"
    with pytest.raises(EdgeError, match="not an event store"):
        check_store_file(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing

