"""The SQLite store and its sink on real files: retention, a locked, full or corrupt database, a store file deleted
or replaced while open, another program's database at the store's path, recovery."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from edge.errors import EdgeError
from edge.store import EventStore, Retention, StoreSink
from edge.store.db import PRUNE_CHUNK, SIZE_HEADROOM
from edge.store.schema import SCHEMA_VERSION
from edge.store.files import SNIFF_BYTES, check_store_file, open_readonly
from edge.types import Box, FaceResult, Frame, FrameResult, Prediction

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
DAY = 86400.0
WAIT_S = 30.0
POLL_S = 0.05
BASE_TS = float(int(time.time()))  # frames are "now": retention must keep them
SYNCHRONOUS_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL
EVENTS_WITHIN_HEADROOM = 100  # a few pages: far less than the headroom left under the size limit after pruning


def event(ts: float, label: str = "happy", track_id: int = 1) -> dict:
    probs = {name: (0.4 if name == label else 0.1) for name in LABELS}
    return {"ts": ts, "track_id": track_id, "box": [10, 20, 110, 120], "label": label, "confidence": 0.4,
            "probs": probs, "source": "test"}


def frame_result(index: int, faces: int = 1) -> FrameResult:
    probs = np.full(len(LABELS), 0.1, np.float32)
    probs[3] = 0.4
    prediction = Prediction(LABELS, probs)
    found = [FaceResult(Box(10 * i, 0, 10 * i + 50, 50), i + 1, prediction, prediction, "happy") for i in range(faces)]
    frame = Frame(np.zeros((4, 4, 3), np.uint8), timestamp=BASE_TS + index, index=index, source="test")
    return FrameResult(frame, found)


def count(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def wait_for(predicate) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(POLL_S)


def test_store_is_wal_and_keeps_what_it_committed(tmp_path):
    db = tmp_path / "events.db"
    store = EventStore(db)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS_FULL  # survives power loss
    assert store.insert([event(1.0), event(2.0, "sad")]) == 2
    store.close()
    again = EventStore(db)
    again.insert([event(3.0)])
    rows = again.conn.execute("SELECT ts, label, session_id FROM events ORDER BY ts").fetchall()
    assert rows == [(1.0, "happy", 1), (2.0, "sad", 1), (3.0, "happy", 2)]
    again.close()


def test_retention_by_age(tmp_path):
    store = EventStore(tmp_path / "events.db")
    now = 100 * DAY
    store.insert([event(now - 40 * DAY), event(now - 31 * DAY), event(now - 29 * DAY), event(now - 60)])
    result = store.prune(Retention(days=30, max_mb=None), now=now)
    assert (result.by_age, result.by_size) == (2, 0)
    assert [r[0] for r in store.conn.execute("SELECT ts FROM events ORDER BY ts")] == [now - 29 * DAY, now - 60]
    store.close()


def test_retention_by_size_removes_the_oldest(tmp_path):
    db = tmp_path / "events.db"
    store = EventStore(db)
    store.insert([event(float(i)) for i in range(20000)])
    before = store.used_bytes()
    limit_mb = before / 4 / (1024 * 1024)
    result = store.prune(Retention(days=None, max_mb=limit_mb))
    assert result.by_size > PRUNE_CHUNK and result.by_age == 0  # several chunks
    assert store.used_bytes() <= limit_mb * 1024 * 1024 * SIZE_HEADROOM  # to the headroom, not just under
    oldest, total = store.conn.execute("SELECT min(ts), count(*) FROM events").fetchone()
    assert total == 20000 - result.by_size and oldest == float(result.by_size)  # exactly the oldest went
    assert store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert db.stat().st_size <= limit_mb * 1024 * 1024  # freed pages went back to the file system at once
    store.insert([event(float(20000 + i)) for i in range(EVENTS_WITHIN_HEADROOM)])
    assert store.prune(Retention(days=None, max_mb=limit_mb)).by_size == 0  # the headroom takes the next events
    store.close()


def test_size_pruning_stops_after_the_current_chunk_when_the_service_stops(tmp_path):
    """A large store pruned on a slow card takes seconds; a stop request must not wait for all of it (systemd
    kills a service that takes longer than its stop timeout, queued events included). The rest is done next time."""
    store = EventStore(tmp_path / "events.db")
    store.insert([event(float(i)) for i in range(20000)])
    limit_mb = store.used_bytes() / 4 / (1024 * 1024)
    chunks: list[int] = []

    def stop_after_one_chunk() -> bool:
        chunks.append(store.count())
        return len(chunks) > 1

    result = store.prune(Retention(days=None, max_mb=limit_mb), stop=stop_after_one_chunk)
    assert result.by_size == PRUNE_CHUNK  # one chunk, then the stop was seen
    assert store.count() == 20000 - PRUNE_CHUNK
    assert store.conn.execute("PRAGMA freelist_count").fetchone()[0] > 0  # the vacuum waits for next time
    rest = store.prune(Retention(days=None, max_mb=limit_mb))
    assert result.by_size + rest.by_size > PRUNE_CHUNK and store.used_bytes() <= limit_mb * 1024 * 1024
    assert store.free_pages() == 0
    store.close()


def test_age_pruning_goes_by_chunks_and_stops_after_the_current_one(tmp_path):
    """A retention in days first set on a store of months deletes most of it: in chunks, so a stop is seen
    after the first (it was one DELETE), and the next prune finishes, exactly the old events."""
    store = EventStore(tmp_path / "events.db")
    now = 100 * DAY
    old_events = 2 * PRUNE_CHUNK + 10
    store.insert([event(now - 40 * DAY + i) for i in range(old_events)] + [event(now - 60.0 + i) for i in range(5)])
    result = store.prune(Retention(days=30, max_mb=None), now=now, stop=lambda: True)  # stopping: one chunk
    assert (result.by_age, result.by_size) == (PRUNE_CHUNK, 0)
    assert store.free_pages() > 0  # the vacuum waits for next time
    rest = store.prune(Retention(days=30, max_mb=None), now=now)
    assert rest.by_age == old_events - PRUNE_CHUNK and store.count() == 5 and store.free_pages() == 0
    assert store.conn.execute("SELECT min(ts) FROM events").fetchone()[0] == now - 60.0
    store.close()


def test_a_vacuum_a_stop_left_undone_is_done_by_the_next_prune_even_with_nothing_to_delete(tmp_path):
    store = EventStore(tmp_path / "events.db")
    store.insert([event(float(i)) for i in range(20000)])
    limit_mb = store.used_bytes() / 2 / (1024 * 1024)
    stops = iter([False, True])  # one chunk, then a stop
    store.prune(Retention(days=None, max_mb=limit_mb), stop=lambda: next(stops, True))
    assert store.free_pages() > 0
    result = store.prune(Retention(days=None, max_mb=None))  # nothing to delete
    assert (result.by_age, result.by_size) == (0, 0) and store.free_pages() == 0
    store.close()


def test_a_store_of_a_newer_program_is_refused_not_written(tmp_path):
    db = tmp_path / "events.db"
    EventStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(EdgeError, match=f"schema version {SCHEMA_VERSION + 1} is newer than this program"):
        EventStore(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()


def test_sink_prunes_old_events_when_it_opens(tmp_path):
    db = tmp_path / "events.db"
    seed = EventStore(db)
    seed.insert([event(time.time() - 90 * DAY), event(time.time() - 2 * DAY)])
    seed.close()
    sink = StoreSink(db, interval_s=0.0, retention=Retention(days=30, max_mb=None))
    for i in range(3):
        sink.write(frame_result(i))
    sink.close()
    assert sink.events_pruned == 1 and sink.events_committed == 3
    assert count(db) == 4


def test_sink_commits_within_a_second_without_close(tmp_path):
    db = tmp_path / "events.db"
    sink = StoreSink(db, interval_s=0.0)
    for i in range(5):
        sink.write(frame_result(i, faces=2))
    wait_for(lambda: count(db) == 10)  # another connection sees them: committed, not just buffered
    sink.close()


def test_locked_database_keeps_events_queued_and_heals(tmp_path, caplog):
    db = tmp_path / "events.db"
    EventStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    sink = StoreSink(db, interval_s=0.0)
    with caplog.at_level(logging.INFO, logger="edge.store.sink"):
        for i in range(7):
            sink.write(frame_result(i))
        wait_for(lambda: sink.fault is not None)
        assert "locked" in sink.fault and sink.queued == 7
        holder.execute("ROLLBACK")
        holder.close()
        sink.close()
    assert sink.events_committed == 7 and count(db) == 7
    messages = [r.getMessage() for r in caplog.records]
    assert any("keeping events in memory" in m for m in messages)
    assert any("writing again" in m for m in messages)


def test_full_database_keeps_events_and_heals_when_space_returns(tmp_path, caplog):
    db = tmp_path / "events.db"
    sink = StoreSink(db, interval_s=0.0, queue_limit=100_000)
    sink.write(frame_result(0))
    wait_for(lambda: sink.events_committed == 1)
    conn = sink._store.conn  # noqa: SLF001 - cap this connection's file size: real SQLITE_FULL errors
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    with caplog.at_level(logging.INFO, logger="edge.store.sink"):
        for i in range(1, 3001):
            sink.write(frame_result(i))
        sink.close()  # the reopened connection has room again ("disk freed"): everything lands
    messages = [r.getMessage() for r in caplog.records]
    assert any("database or disk is full; keeping events in memory" in m for m in messages), messages
    assert any("writing again" in m for m in messages), messages
    assert sink.fault is None and sink.events_dropped == 0
    assert count(db) == 3001
    conn = sqlite3.connect(db)  # the reopen after the fault kept the process's session: one run, one session
    assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert conn.execute("SELECT DISTINCT session_id FROM events").fetchall() == [(1,)]
    conn.close()


def test_queue_overflow_drops_oldest_and_counts(tmp_path):
    db = tmp_path / "events.db"
    EventStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    sink = StoreSink(db, interval_s=0.0, queue_limit=5)
    for i in range(8):
        sink.write(frame_result(i))
    assert sink.queued == 5 and sink.events_dropped == 3
    holder.execute("ROLLBACK")
    holder.close()
    sink.close()
    conn = sqlite3.connect(db)
    kept = [r[0] for r in conn.execute("SELECT ts FROM events ORDER BY ts")]
    assert kept == [BASE_TS + i for i in range(3, 8)]  # the newest five


@pytest.mark.parametrize("garbage", [bytes(range(256)) * 16, bytes(SNIFF_BYTES)], ids=["binary", "zeros"])
def test_corrupt_database_is_moved_aside_and_a_new_one_started(tmp_path, garbage):
    """Binary, like a damaged database (a power cut can leave a file of zeros on an SD card): not a wrong path to a
    text file, though NUL bytes are valid UTF-8."""
    db = tmp_path / "events.db"
    db.write_bytes(garbage)
    sink = StoreSink(db, interval_s=0.0)
    sink.write(frame_result(0))
    sink.close()
    moved = list(tmp_path.glob("events.db.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == garbage  # kept for recovery, never deleted
    assert count(db) == 1


def test_a_text_file_at_the_store_path_is_refused_and_left_untouched(tmp_path):
    config = tmp_path / "edge.yaml"
    # longer than the sniffed head, which ends inside a two-byte character
    text = "# " + "x" * (SNIFF_BYTES - 3) + "\u00e9\n" + "source:\n  type: demo\n" * 300
    config.write_text(text, encoding="utf-8")
    with pytest.raises(EdgeError, match="is a text file, not an SQLite database"):
        StoreSink(config)
    assert config.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge.yaml"]  # nothing moved aside or created


def test_unusable_folder_is_a_configuration_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(EdgeError, match="cannot create folder"):
        StoreSink(blocker / "sub" / "events.db")


def writer_settled(sink: StoreSink, committed: int):
    return lambda: sink.events_committed >= committed or not sink._thread.is_alive()  # noqa: SLF001


def test_corruption_while_running_keeps_the_writer_alive(tmp_path, monkeypatch):
    db = tmp_path / "events.db"
    real_insert = EventStore.insert
    calls: list[int] = []

    def corrupt_once(self, events):
        calls.append(len(events))
        if len(calls) == 1:
            raise sqlite3.DatabaseError("database disk image is malformed")
        return real_insert(self, events)

    monkeypatch.setattr(EventStore, "insert", corrupt_once)
    sink = StoreSink(db, interval_s=0.0, prune_interval_s=0.0)  # pruning due at every tick
    for i in range(3):
        sink.write(frame_result(i))
    wait_for(lambda: calls)
    for i in range(3, 5):
        sink.write(frame_result(i))
    wait_for(writer_settled(sink, 5))
    assert sink._thread.is_alive()  # noqa: SLF001 - committed by the writer, not by close()
    assert count(db) == 5 and sink.fault is None
    moved, = tmp_path.glob("events.db.corrupt-*")
    sink.close()
    old, new = sqlite3.connect(moved), sqlite3.connect(db)  # the fresh file carries on the same session
    assert old.execute("SELECT id, started, pid FROM sessions").fetchall() == \
        new.execute("SELECT id, started, pid FROM sessions").fetchall()
    assert new.execute("SELECT DISTINCT session_id FROM events").fetchall() == [(1,)]
    old.close()
    new.close()


def test_a_store_reopened_by_another_process_gets_a_new_session(tmp_path):
    db = tmp_path / "events.db"
    first = EventStore(db)
    first.close()
    second = EventStore(db, first.session)  # the same process reopening: the same session
    assert second.session == first.session
    second.close()
    stranger = dataclasses.replace(first.session, pid=first.session.pid + 1)  # that id belongs to someone else
    third = EventStore(db, stranger)
    assert third.session_id == 2 and third.session.pid == os.getpid()
    third.close()


def test_an_unexpected_writer_error_is_a_fault_not_a_dead_thread(tmp_path, monkeypatch, caplog):
    db = tmp_path / "events.db"
    real_flush = StoreSink._flush
    calls: list[int] = []

    def broken_once(self):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real_flush(self)

    monkeypatch.setattr(StoreSink, "_flush", broken_once)
    with caplog.at_level(logging.INFO, logger="edge.store.sink"):
        sink = StoreSink(db, interval_s=0.0, commit_interval_s=0.1)
        sink.write(frame_result(0))
        wait_for(lambda: calls)
        wait_for(lambda: sink.fault is not None or len(calls) > 1)
        sink.write(frame_result(1))
        wait_for(writer_settled(sink, 2))
        assert sink._thread.is_alive()  # noqa: SLF001
        sink.close()
    assert count(db) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("unexpected error in the writer thread" in m for m in messages)
    assert any("unexpected RuntimeError (boom)" in m for m in messages)


@pytest.mark.parametrize("make, problem", [
    (lambda path: path.mkdir(), "is a folder; point store.path at a file in it"),
    (lambda path: path.write_text("events: yes\n"), "is a text file, not an SQLite database"),
    (lambda path: newer_store(path), r"schema version 7 is newer than this program \(1\)"),
    (lambda path: shutil.copy(SHIPPED_MODEL, path), "is a TFLite model, not an SQLite database; left untouched"),
    (lambda path: path.write_bytes(PNG_START + bytes(200)), "is a PNG image, not an SQLite database"),
], ids=["folder", "text", "newer-schema", "model", "image"])
def test_a_store_that_can_never_open_fails_at_start_not_after(tmp_path, make, problem):
    """Not a fault to retry for weeks while events pile up in memory: a configuration error before the run."""
    path = tmp_path / "events.db"
    make(path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(EdgeError, match=problem):
        StoreSink(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing moved aside or created


SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "models" / "emotion_int8.tflite"
PNG_START = b"\x89PNG\r\n\x1a\n"


def newer_store(path: Path) -> None:
    EventStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.close()


def test_a_store_file_this_user_may_not_write_fails_at_start(tmp_path, monkeypatch):
    path = tmp_path / "events.db"
    EventStore(path).close()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == path else real_access(p, mode))
    with pytest.raises(EdgeError, match="not readable and writable by this user"):
        StoreSink(path)


class SteppableClock:
    """A wall clock that can be stepped (NTP's first answer) over a boot clock that runs on undisturbed."""

    def __init__(self) -> None:
        self.step_s = 0.0

    def wall(self) -> float:
        return time.time() + self.step_s

    @staticmethod
    def boot() -> float:
        return time.monotonic()


def sink_on_clock(db: Path, clock: SteppableClock, committed) -> StoreSink:
    """A StoreSink reading `clock`, with the frames numbered in `committed` written and committed."""
    from edge.store.clock import ClockWatch

    sink = StoreSink(db, interval_s=0.0)
    sink._clock = ClockWatch(wall=clock.wall, boot=clock.boot)  # noqa: SLF001 - the test's clock
    for index in committed:
        sink.write(frame_result(index))
    wait_for(lambda: sink.events_committed == len(committed))
    return sink


def test_a_clock_step_moves_the_runs_earlier_events_committed_and_queued(tmp_path):
    """A Pi boots with a stale clock and NTP steps it an hour on: every event stamped before the step, committed
    or still queued (the database is locked then), moves by that hour; later events and other runs do not."""
    db = tmp_path / "events.db"
    earlier = EventStore(db)  # another run's event: never moved
    earlier.insert([event(BASE_TS - DAY)])
    earlier.close()
    clock = SteppableClock()
    sink = sink_on_clock(db, clock, committed=range(3))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # the next two stay queued
    for i in range(3, 5):
        sink.write(frame_result(i))
    clock.step_s = 3600.0
    sink.write(frame_result(5))  # captured just before the step, noticed with it: moved too
    sink.write(frame_result(3600 + 6))  # stamped by the corrected clock
    holder.execute("ROLLBACK")
    holder.close()
    sink.close()
    conn = sqlite3.connect(db)
    stamps = [round(ts - BASE_TS, 3) for (ts,) in conn.execute("SELECT ts FROM events ORDER BY id")]
    started = [row[0] for row in conn.execute("SELECT started FROM sessions ORDER BY id")]
    conn.close()
    assert stamps == [-DAY, 3600, 3601, 3602, 3603, 3604, 3605, 3606]
    assert sink.clock_steps == 1 and started[1] > time.time() + 3000  # the run's start moved too


def test_a_long_history_moves_in_chunks_and_a_corrupt_file_met_while_moving_is_moved_aside(tmp_path, monkeypatch):
    import edge.store.sink as sink_module

    monkeypatch.setattr(sink_module, "SHIFT_CHUNK", 2)
    db = tmp_path / "events.db"
    clock = SteppableClock()
    sink = sink_on_clock(db, clock, committed=range(7))
    clock.step_s = 600.0
    sink.write(frame_result(600 + 8))
    wait_for(lambda: sink.events_committed == 8)
    assert sink.events_moved == 7  # in four transactions of at most two rows
    sink.close()

    sink = sink_on_clock(db, clock, committed=[600 + 9])

    def malformed(self, *args):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(EventStore, "shift_rows", malformed)
    clock.step_s = 1200.0
    sink.write(frame_result(1200 + 10))
    wait_for(writer_settled(sink, 2))
    sink.close()
    assert len(list(tmp_path.glob("events.db.corrupt-*"))) == 1  # not retried for ever: moved aside
    assert count(db) == 1  # the fresh store has the event after the step


def test_small_clock_adjustments_move_nothing():
    from edge.store.clock import ClockWatch

    clock = SteppableClock()
    watch = ClockWatch(wall=clock.wall, boot=clock.boot)
    clock.step_s = 0.5  # a small correction: not undone
    assert watch.step() == 0.0
    clock.step_s = 2.0  # nor does it add up with the next small one into a step
    assert watch.step() == 0.0
    clock.step_s = -28.0
    assert watch.step() == pytest.approx(-30.0, abs=0.1)
    assert watch.step() == 0.0  # measured from the new offset on


def test_a_store_corrupted_twice_in_one_second_keeps_both_copies(tmp_path, monkeypatch):
    """Moving a corrupt store aside never replaces an earlier one moved aside in the same second."""
    from edge.store import db as store_db

    one_second = time.gmtime(0)
    monkeypatch.setattr(store_db.time, "gmtime", lambda *_: one_second)  # both moves in one second
    path = tmp_path / "events.db"
    path.write_bytes(b"first broken store")
    Path(f"{path}-wal").write_bytes(b"first wal")
    first = store_db.quarantine(path)
    path.write_bytes(b"second broken store")
    second = store_db.quarantine(path)
    assert first != second and not path.exists()
    assert first.read_bytes() == b"first broken store" and Path(f"{first}-wal").read_bytes() == b"first wal"
    assert second.read_bytes() == b"second broken store" and not Path(f"{second}-wal").exists()
    assert second.name == f"{first.name}-2"


FOREIGN_HINT = "left untouched: point store.path at a new or existing events .db file"


def side_files(db: Path) -> list[Path]:
    return [db, Path(f"{db}-wal"), Path(f"{db}-shm")]


def delete_folder(db: Path) -> None:
    shutil.rmtree(db.parent)


def delete_files(db: Path) -> None:  # an admin resetting the store: rm events.db*
    for part in side_files(db):
        part.unlink(missing_ok=True)


def delete_main_file(db: Path) -> None:  # its -wal and -shm stay: they must not leak into the new file
    db.unlink()


@pytest.mark.parametrize("delete", [delete_folder, delete_files, delete_main_file],
                         ids=["folder", "all-files", "main-file"])
def test_a_store_deleted_while_running_is_started_again_at_its_path(tmp_path, caplog, delete):
    """SQLite would go on writing to the deleted file: every later event lost, no error, exit 0."""
    db = tmp_path / "store" / "events.db"
    with caplog.at_level(logging.INFO, logger="edge.store.sink"):
        sink = StoreSink(db, interval_s=0.0, commit_interval_s=0.1)
        for i in range(3):
            sink.write(frame_result(i))
        wait_for(lambda: sink.events_committed == 3)
        delete(db)
        for i in range(3, 5):
            sink.write(frame_result(i))
        wait_for(lambda: sink.events_committed == 5)  # by the writer thread, not by close()
        sink.close()
    assert db.exists() and sink.fault is None
    conn = sqlite3.connect(db)
    assert [ts for (ts,) in conn.execute("SELECT ts FROM events ORDER BY id")] == [BASE_TS + 3, BASE_TS + 4]
    assert conn.execute("SELECT DISTINCT session_id FROM events").fetchall() == [(1,)]  # the run's session goes on
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    lost = [r for r in caplog.records if "deleted, renamed or replaced while open" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelno == logging.ERROR
    assert "the 3 events this run committed to it" in lost[0].getMessage()


def test_a_store_renamed_while_running_keeps_every_event_committed_to_it(tmp_path):
    """`mv events.db events-old.db` moves the main file only: its WAL, still named events.db-wal, holds the latest
    commits, and is folded into the renamed file before the path is started again."""
    db, aside = tmp_path / "events.db", tmp_path / "events-old.db"
    sink = StoreSink(db, interval_s=0.0, commit_interval_s=0.1)
    for i in range(3):
        sink.write(frame_result(i))
    wait_for(lambda: sink.events_committed == 3)
    assert Path(f"{db}-wal").stat().st_size > 0  # the commits are in the WAL, not yet in the main file
    os.rename(db, aside)
    for i in range(3, 5):
        sink.write(frame_result(i))
    wait_for(lambda: sink.events_committed == 5)
    sink.close()
    for path, expected in ((aside, [BASE_TS, BASE_TS + 1, BASE_TS + 2]), (db, [BASE_TS + 3, BASE_TS + 4])):
        conn = sqlite3.connect(path)
        assert [ts for (ts,) in conn.execute("SELECT ts FROM events ORDER BY id")] == expected, path
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()


def test_a_path_that_cannot_be_looked_at_keeps_the_open_store_writing(tmp_path, monkeypatch):
    """stat() failing with EACCES or EIO (a folder that lost its x bit, a failing card) is no replaced file: the
    open connection goes on committing, as it did before the check existed."""
    import edge.store.files

    db = tmp_path / "events.db"
    sink = StoreSink(db, interval_s=0.0, commit_interval_s=0.1)
    sink.write(frame_result(0))
    wait_for(lambda: sink.events_committed == 1)
    real_stat = os.stat

    def denied(path, *args, **kwargs):
        if Path(path) == db:
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(edge.store.files.os, "stat", denied)
    for i in range(1, 4):
        sink.write(frame_result(i))
    wait_for(lambda: sink.events_committed == 4)
    sink.close()
    assert sink.fault is None and sink.queued == 0


def test_another_store_moved_onto_the_path_while_running_takes_the_later_events(tmp_path):
    """A backup moved onto events.db is detected too, and the running store's WAL, still at events.db-wal, is not
    applied to it (SQLite would take the old file's pages into the backup)."""
    db, backup = tmp_path / "events.db", tmp_path / "backup.db"
    other = EventStore(backup)
    other.insert([event(BASE_TS - DAY, "sad"), event(BASE_TS - DAY + 1, "fear")])
    other.close()
    sink = StoreSink(db, interval_s=0.0, commit_interval_s=0.1)
    for i in range(3):
        sink.write(frame_result(i))
    wait_for(lambda: sink.events_committed == 3)
    assert Path(f"{db}-wal").exists()
    os.replace(backup, db)
    for i in range(3, 5):
        sink.write(frame_result(i))
    wait_for(lambda: sink.events_committed == 5)
    sink.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows = conn.execute("SELECT ts, label FROM events ORDER BY id").fetchall()
    conn.close()
    assert rows == [(BASE_TS - DAY, "sad"), (BASE_TS - DAY + 1, "fear"), (BASE_TS + 3, "happy"), (BASE_TS + 4, "happy")]
    assert not list(tmp_path.glob("events.db.corrupt-*"))


def test_a_root_owned_model_at_the_path_is_named_as_a_model_not_as_a_permission_problem(tmp_path, monkeypatch):
    """The service's own user may read the shipped model but not write it: 'chown it' would be the wrong advice."""
    path = tmp_path / "emotion_int8.tflite"
    shutil.copy(SHIPPED_MODEL, path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (mode & os.W_OK == 0 and real_access(p, mode, **kw))
                        if Path(p) == path else real_access(p, mode, **kw))
    with pytest.raises(EdgeError, match="is a TFLite model, not an SQLite database; left untouched"):
        check_store_file(path)


def test_a_model_moved_onto_the_path_while_running_is_left_untouched_and_a_fault(tmp_path):
    """It was taken for a damaged store: renamed to .corrupt-... and replaced by a database (a model or a video
    given as store.path by mistake). Now it is a fault, events queued, until the path is free again."""
    db = tmp_path / "events.db"
    sink = StoreSink(db, interval_s=0.0, commit_interval_s=0.1)
    sink.write(frame_result(0))
    wait_for(lambda: sink.events_committed == 1)
    model = tmp_path / "model.tflite"
    shutil.copy(SHIPPED_MODEL, model)
    os.replace(model, db)  # noticed as a replaced store: a new one is opened at the path
    sink.write(frame_result(1))
    wait_for(lambda: sink.fault is not None)
    assert "is a TFLite model, not an SQLite database; left untouched" in sink.fault and sink.queued == 1
    assert db.read_bytes() == SHIPPED_MODEL.read_bytes() and not list(tmp_path.glob("events.db.corrupt-*"))
    db.unlink()
    wait_for(lambda: sink.events_committed == 2)
    sink.close()
    assert count(db) == 1


def test_a_vanished_folder_that_cannot_be_made_again_is_a_fault_until_it_can(tmp_path):
    db = tmp_path / "store" / "events.db"
    sink = StoreSink(db, interval_s=0.0, commit_interval_s=0.1)
    sink.write(frame_result(0))
    wait_for(lambda: sink.events_committed == 1)
    shutil.rmtree(db.parent)
    db.parent.write_text("a file where the folder was\n")  # mkdir fails
    for i in range(1, 3):
        sink.write(frame_result(i))
    wait_for(lambda: sink.fault is not None)
    assert "cannot open" in sink.fault and sink.queued == 2  # kept, shown as store-fault=, retried
    db.parent.unlink()
    wait_for(lambda: sink.events_committed == 3)  # the next retry makes the folder and a new store
    assert sink.fault is None
    sink.close()
    assert count(db) == 2


def other_programs_db(path: Path, table: str, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute(table)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("table, version, reason", [
    ("CREATE TABLE events (a)", 0, "schema version 0, tables ['events']"),
    ("CREATE TABLE notes (body TEXT)", 1, "schema version 1, tables ['notes']"),
    ("CREATE TABLE events (ts REAL, label TEXT)", 1, "schema version 1, table events without the columns "
                                                     "confidence, id, probs, session_id, source, track_id, x1, x2, "
                                                     "y1, y2"),
], ids=["version-0-with-tables", "version-1-without-events", "version-1-other-events"])
def test_another_programs_database_is_refused_and_left_untouched(tmp_path, table, version, reason):
    """Not retried for ever (every event then ends in the log) after switching the file to WAL: refused at start,
    by --check-config's check, and by a reopen while running, before anything in the file changes."""
    path = tmp_path / "other.db"
    other_programs_db(path, table, version)
    before, listing = path.read_bytes(), sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(EdgeError) as raised:
        StoreSink(path)
    assert raised.value.one_line() == f"error: store {path}: not an event store ({reason}); {FOREIGN_HINT}"
    with pytest.raises(EdgeError, match="not an event store"):
        check_store_file(path)
    with pytest.raises(EdgeError, match="not an event store"):
        EventStore(path)
    assert path.read_bytes() == before  # journal mode, auto_vacuum, tables: all as they were
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_a_report_refuses_a_database_of_another_schema_version(tmp_path):
    """An `events` table alone does not make an event store: one of another version is not read as one."""
    path = tmp_path / "other.db"
    other_programs_db(path, "CREATE TABLE events (a)", SCHEMA_VERSION - 1)
    with pytest.raises(EdgeError, match=rf"not an event store \(schema version {SCHEMA_VERSION - 1}, tables"):
        open_readonly(path)


def wal_without_tables(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


def dropped_tables(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE scratch (a)")
    conn.execute("DROP TABLE scratch")
    conn.close()


@pytest.mark.parametrize("make", [Path.touch, wal_without_tables, dropped_tables],
                         ids=["empty-file", "wal-without-tables", "dropped-tables"])
def test_an_empty_file_or_a_database_without_tables_becomes_the_store(tmp_path, make):
    path = tmp_path / "events.db"
    make(path)
    check_store_file(path)
    sink = StoreSink(path, interval_s=0.0)
    for i in range(2):
        sink.write(frame_result(i))
    sink.close()
    assert sink.fault is None and count(path) == 2


def test_checking_the_store_while_the_service_writes_it_changes_nothing(tmp_path):
    """--check-config while the service runs, and after it stopped: the store passes and no file is left beside
    it (a read-only connection on a stopped WAL store would leave -wal and -shm, root's under sudo)."""
    db = tmp_path / "events.db"
    sink = StoreSink(db, interval_s=0.0)
    for i in range(3):
        sink.write(frame_result(i))
    wait_for(lambda: sink.events_committed == 3)
    check_store_file(db)
    sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.db"]
    check_store_file(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.db"]


def test_another_programs_database_moved_onto_the_path_while_running_is_a_fault_and_left_untouched(tmp_path):
    db, foreign = tmp_path / "events.db", tmp_path / "other.db"
    other_programs_db(foreign, "CREATE TABLE events (a)", 0)
    before = foreign.read_bytes()
    sink = StoreSink(db, interval_s=0.0, commit_interval_s=0.1)
    sink.write(frame_result(0))
    wait_for(lambda: sink.events_committed == 1)
    os.replace(foreign, db)
    sink.write(frame_result(1))
    wait_for(lambda: sink.fault is not None)
    assert sink.fault.startswith("not an event store (schema version 0") and sink.queued == 1
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["events.db"]
    db.rename(foreign)  # the admin moves it away again: the queued event goes into a new store
    sink.close()
    assert foreign.read_bytes() == before and count(db) == 1
