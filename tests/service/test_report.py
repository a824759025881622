"""`python -m edge report` on a store filled with known events gives the known figures."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from edge.store import EventStore
from tests.service.conftest import REPO, service_env
from tests.service.test_store import event

T0 = datetime(2025, 6, 1, 10, 0, tzinfo=timezone.utc).timestamp()
# hour 10:00 -> 3 happy + 1 sad (track 1 and 2); hour 11:00 -> 2 neutral + 2 angry (track 3)
KNOWN = [(T0 + 60, "happy", 1), (T0 + 120, "happy", 1), (T0 + 180, "sad", 1), (T0 + 1800, "happy", 2),
         (T0 + 3600 + 5, "neutral", 3), (T0 + 3600 + 10, "angry", 3), (T0 + 3600 + 15, "neutral", 3),
         (T0 + 7199, "angry", 3)]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CONFIDENCE = 0.8765  # a confidence with four decimals, as the events log keeps them


def report(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", "report", *args], cwd=REPO, env=service_env(TZ="UTC"),
                          capture_output=True, text=True, timeout=120)


def known_store(tmp_path):
    db = tmp_path / "events.db"
    store = EventStore(db)
    store.insert([event(ts, label, track) for ts, label, track in KNOWN])
    store.close()
    return db


def row(stdout: str, key: str) -> list[str]:
    """The table row starting with `key`, split into tokens: key..., events, (count, share%) x 7 labels, top."""
    line = next(line for line in stdout.splitlines() if line.startswith(key))
    return line[len(key):].split()


def pairs(tokens: list[str]) -> dict[str, tuple[int, str]]:
    return {label: (int(tokens[1 + 2 * i]), tokens[2 + 2 * i]) for i, label in enumerate(LABELS)}


def test_report_by_hour_with_exports(tmp_path):
    db = known_store(tmp_path)
    done = report("--db", str(db), "--since", "all", "--png", str(tmp_path / "t.png"),
                  "--csv", str(tmp_path / "e.csv"), "--json", str(tmp_path / "e.json"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"8 events in {db}")
    first = row(done.stdout, "2025-06-01 10:00")
    assert first[0] == "4" and first[-1] == "happy"
    assert pairs(first)["happy"] == (3, "75.0%") and pairs(first)["sad"] == (1, "25.0%")
    assert pairs(first)["neutral"] == (0, "0.0%")
    second = row(done.stdout, "2025-06-01 11:00")
    assert second[0] == "4" and pairs(second)["neutral"] == (2, "50.0%") and pairs(second)["angry"] == (2, "50.0%")
    total = row(done.stdout, "total")
    assert total[0] == "8" and pairs(total)["happy"] == (3, "37.5%") and pairs(total)["angry"] == (2, "25.0%")
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG_MAGIC
    for kind, name in (("plot", "t.png"), ("csv", "e.csv"), ("json", "e.json")):  # where the results went
        assert f"{kind}: {tmp_path / name}" in done.stdout.splitlines()
    with (tmp_path / "e.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(float(r["ts"]), r["label"], int(r["track_id"])) for r in rows] == KNOWN
    assert rows[0]["p_happy"] == "0.4" and rows[0]["time"].startswith("2025-06-01T10:01:00")
    exported = json.loads((tmp_path / "e.json").read_text())
    assert [(e["ts"], e["label"], e["track_id"]) for e in exported] == KNOWN
    assert exported[0]["box"] == [10, 20, 110, 120] and set(exported[0]["probs"]) == set(pairs(first))
    assert exported[0] == {**event(*KNOWN[0]), "session": 1}
    assert (rows[0]["session"], rows[0]["confidence"], rows[0]["source"]) == ("1", "0.4", "test")


def test_files_given_relative_are_said_with_their_full_path(tmp_path):
    db = known_store(tmp_path)
    done = subprocess.run([sys.executable, "-m", "edge", "report", "--db", str(db), "--since", "all", "--csv",
                           "week.csv"], cwd=tmp_path, env=service_env(TZ="UTC"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"csv: {tmp_path / 'week.csv'}" in done.stdout.splitlines() and (tmp_path / "week.csv").is_file()


@pytest.mark.parametrize("damaged_ids", [(2, 5, 6), (1, 2)], ids=["later-events", "the-first-event"])
def test_events_whose_probabilities_were_damaged_are_exported_without_them(tmp_path, damaged_ids):
    """A store edited by hand: the export goes on (the events' other columns intact, every label's column kept
    even when the first event is the damaged one), and a warning names them."""
    import sqlite3

    db = known_store(tmp_path)
    conn = sqlite3.connect(db)
    with conn:  # not JSON, a list, a number that is not finite
        for row_id, text in zip(damaged_ids, ("{not json", "[0.1, 0.9]", '{"happy": NaN}')):
            conn.execute("UPDATE events SET probs = ? WHERE id = ?", (text, row_id))
    conn.close()
    done = report("--db", str(db), "--since", "all", "--csv", str(tmp_path / "e.csv"), "--json", str(tmp_path / "e.json"))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    with (tmp_path / "e.csv").open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames[-len(LABELS):] == [f"p_{label}" for label in LABELS]
    assert [(float(r["ts"]), r["label"], int(r["track_id"])) for r in rows] == KNOWN
    damaged = [index + 1 in damaged_ids for index in range(len(KNOWN))]
    assert [all(r[f"p_{label}"] == "" for label in LABELS) for r in rows] == damaged
    assert all(float(r["p_happy"]) >= 0 for r, bad in zip(rows, damaged) if not bad)
    exported = json.loads((tmp_path / "e.json").read_text())
    assert [e["probs"] is None for e in exported] == damaged
    assert all(set(e["probs"]) == set(LABELS) for e, bad in zip(exported, damaged) if not bad)
    warning = (f"store {db}: {len(damaged_ids)} event(s) with unreadable probabilities, exported without them "
               f"(event id {', '.join(map(str, damaged_ids))})")
    assert (done.stdout + done.stderr).count(warning) == 2  # once per export


def test_report_by_track_and_since_window(tmp_path):
    db = known_store(tmp_path)
    done = report("--db", str(db), "--since", "2025-06-01T10:30:00+00:00", "--by", "track")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("5 events")  # the three early events of track 1 are before --since
    track2, track3 = row(done.stdout, "s1/track 2"), row(done.stdout, "s1/track 3")
    assert track2[0] == "1" and pairs(track2)["happy"] == (1, "100.0%")
    assert track3[0] == "4" and pairs(track3)["neutral"] == (2, "50.0%")
    assert "s1/track 1" not in done.stdout


def test_until_ends_the_range(tmp_path):
    done = report("--db", str(known_store(tmp_path)), "--since", "all", "--until", "2025-06-01T11:00:00+00:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("4 events") and "2025-06-01 11:00" not in done.stdout


def test_tracks_of_two_service_runs_are_apart_though_their_ids_repeat(tmp_path):
    """Track ids restart with every service start: a second session's track 1 is another face."""
    db = known_store(tmp_path)
    later = EventStore(db)  # another process: a new session
    later.insert([{**event(T0 + 7300, "surprise", 1), "confidence": CONFIDENCE, "source": "camera"}])
    later.close()
    table = tmp_path / "e.csv"
    done = report("--db", str(db), "--since", "all", "--by", "track", "--csv", str(table))
    assert done.returncode == 0, done.stderr
    first, second = row(done.stdout, "s1/track 1"), row(done.stdout, "s2/track 1")
    assert first[0] == "3" and pairs(first)["happy"] == (2, "66.7%")
    assert second[0] == "1" and pairs(second)["surprise"] == (1, "100.0%")
    with table.open() as handle:
        last = list(csv.DictReader(handle))[-1]
    assert (last["session"], last["confidence"], last["source"]) == ("2", str(CONFIDENCE), "camera")


def test_the_plot_of_a_track_report_takes_an_interval_that_fits_the_span():
    from edge.report import SECONDS_PER_DAY, auto_interval

    assert auto_interval(0.0) == "minute"
    assert auto_interval(3 * SECONDS_PER_DAY) == "hour"
    assert auto_interval(30 * SECONDS_PER_DAY) == "day"


def test_report_bad_input_is_one_line(tmp_path):
    db = str(known_store(tmp_path))
    for args, expected in [(["--db", str(tmp_path / "none.db")], "no such file"),
                           (["--db", str(tmp_path)], "is a folder, not a store file"),
                           (["--db", db, "--since", "yesterday"], "error: --since yesterday: expected"),
                           (["--db", db, "--since", "all", "--until", "tomorrow"], "error: --until tomorrow: expected"),
                           (["--db", db, "--since", "all", "--png", str(tmp_path / "t.foo")],
                            f"error: --png {tmp_path / 't.foo'}: the file name must end in .png"),
                           (["--db", db, "--since", "0001-01-01"], "date out of range (use 'all' for no limit)"),
                           (["--db", db, "--since", "all", "--csv", str(tmp_path / "events.db" / "e.csv")],
                            f"cannot write ({tmp_path / 'events.db'} is a file, not a folder)")]:
        done = report(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert done.stderr.strip().startswith("error:") and expected in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "t.foo").exists()


def test_a_bad_last_output_is_found_before_the_first_is_written(tmp_path):
    """--png, --csv and --json are each checked before any is written: a bad --csv used to leave the plot
    written (and unreported) behind its error."""
    db = str(known_store(tmp_path))
    (tmp_path / "a-folder").mkdir()
    plot = tmp_path / "plot.png"
    for csv_path, expected in [(tmp_path / "a-folder", "is a folder; give a file name"),
                               (tmp_path / "events.db" / "x.csv", "is a file, not a folder")]:
        done = report("--db", db, "--since", "all", "--png", str(plot), "--csv", str(csv_path))
        assert done.returncode == 2 and done.stderr.startswith(f"error: --csv {csv_path}: ") and expected in done.stderr
        assert not plot.exists() and done.stdout == ""


def test_plot_uses_the_overlay_colours(tmp_path):
    import cv2
    import numpy as np

    from edge.report import Mark, by_interval
    from edge.report_chart import plot_timeline
    from edge.sinks.overlay import LABEL_COLOURS

    buckets = by_interval([Mark(T0 + 3600 * hour, 1, 1, "happy") for hour in range(3)], "hour")
    image = cv2.imread(str(plot_timeline(buckets, ["happy", "sad"], "hour", tmp_path / "happy.png")))
    happy = np.all(np.abs(image.astype(int) - LABEL_COLOURS["happy"]) <= 1, axis=-1)
    assert happy.mean() > 0.3  # the whole plot area is the overlay's "happy" (BGR), not matplotlib's default


def test_report_on_an_empty_window(tmp_path):
    done = report("--db", str(known_store(tmp_path)), "--since", "1h")
    assert done.returncode == 0 and done.stdout.startswith("no events")


def test_an_empty_window_still_writes_every_file_asked_for(tmp_path):
    """A nightly job on a quiet day: an empty plot, a header-only CSV and an empty JSON list, exit 0."""
    png, table, dump = tmp_path / "quiet.png", tmp_path / "quiet.csv", tmp_path / "quiet.json"
    done = report("--db", str(known_store(tmp_path)), "--since", "1h", "--png", str(png), "--csv", str(table),
                  "--json", str(dump))
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert table.read_text().splitlines()[0].startswith("ts,time,session,track_id,label")
    assert len(table.read_text().splitlines()) == 1 and json.loads(dump.read_text()) == []


def test_a_reader_that_stops_early_gets_no_traceback_and_the_files_are_written(tmp_path):
    """`report ... | head -1`: the files come before the table, and the closed pipe ends the command quietly."""
    db, table = known_store(tmp_path), tmp_path / "e.csv"
    command = [sys.executable, "-m", "edge", "report", "--db", str(db), "--since", "all", "--by", "minute",
               "--csv", str(table)]
    with subprocess.Popen(command, cwd=REPO, env=service_env(TZ="UTC"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        proc.stdout.close()  # the reader is gone before the first line
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
    assert code == 141 and "Traceback" not in stderr, stderr
    assert len(table.read_text().splitlines()) == 1 + len(KNOWN)


def test_report_on_a_store_this_user_may_not_reach_says_sudo(deny_access, monkeypatch, capsys, tmp_path):
    """The service's store is under /var/lib/private (mode 0700): `emotion-edge report` without sudo."""
    from tests.edge.helpers import main_in_process

    private = tmp_path / "private"
    private.mkdir()
    db = known_store(private)
    assert main_in_process(["report", "--db", str(db), "--since", "all"], monkeypatch, capsys)[0] == 0  # control
    deny_access(private)
    code, err = main_in_process(["report", "--db", str(db), "--since", "all"], monkeypatch, capsys)
    assert code == 2
    assert err.strip().splitlines() == [f"error: store {db}: cannot access (Permission denied); run with sudo "
                                        "(the service's store is readable by root only)"]


def test_a_gap_without_events_is_drawn_as_zero_not_as_the_last_shares():
    from edge.report import Mark, by_interval
    from edge.report_chart import step_points

    day = 86400
    marks = [Mark(T0, 1, 1, "happy"), Mark(T0 + 2 * day, 1, 2, "sad")]
    times, (happy, sad) = step_points(by_interval(marks, "hour"), ["happy", "sad"])
    assert times == [T0, T0 + 3600, T0 + 2 * day, T0 + 2 * day + 3600]
    assert happy == [100.0, 0.0, 0.0, 0.0] and sad == [0.0, 0.0, 100.0, 0.0]
    adjacent = step_points(by_interval([Mark(T0, 1, 1, "happy"), Mark(T0 + 3600, 1, 1, "sad")], "hour"), ["sad"])
    assert adjacent == ([T0, T0 + 3600, T0 + 7200], [[0.0, 100.0, 0.0]])  # no zero between touching hours


def test_table_columns_stay_aligned_with_large_counts():
    from collections import Counter

    from edge.report import Bucket, format_table

    labels = ["angry", "happy", "neutral"]
    buckets = [Bucket("2025-06-01", 0, 1, Counter(happy=86400, neutral=5)), Bucket("2025-06-02", 1, 2, Counter(angry=1))]
    lines = format_table(buckets, labels, "day").splitlines()
    assert len(lines) == 4
    header_ends = [lines[0].index(label) + len(label) for label in labels]
    for line in lines[1:]:  # each label cell ends with '%', right under the end of its header
        assert [i + 1 for i, char in enumerate(line) if char == "%"] == header_ends, line
    assert lines[-1].split()[:2] == ["total", "86406"]


def test_all_parts_of_a_report_see_one_snapshot_while_the_service_writes(tmp_path):
    from edge.report import EventRange, snapshot, summarize
    from edge.store import open_readonly

    db = known_store(tmp_path)
    conn = open_readonly(db)
    try:
        snapshot(conn)
        events = EventRange(conn)
        before = events.stats()
        writer = EventStore(db)
        writer.insert([event(T0 + 100, "fear", 9)])  # inside the range, committed between two passes
        writer.close()
        assert events.stats() == before and len(list(events.marks())) == before[0] == len(KNOWN)
        assert [b.key for b in summarize(events.marks(), "track")] == ["s1/track 1", "s1/track 2", "s1/track 3"]
    finally:
        conn.close()
    reopened = open_readonly(db)
    try:
        assert EventRange(reopened).stats()[0] == len(KNOWN) + 1
    finally:
        reopened.close()


def test_daylight_saving_days_and_the_repeated_hour(monkeypatch):
    """Europe/Berlin, 26 Oct 2025: the clocks go back at 03:00, so 02:00-03:00 happens twice and the day has
    25 hours. Each day bucket ends at the next local midnight, and the two 02:00 rows carry their UTC offsets."""
    import time as clock

    from edge.report import Mark, by_interval
    from edge.report_chart import step_points

    monkeypatch.setenv("TZ", "Europe/Berlin")
    clock.tzset()
    try:
        first = datetime(2025, 10, 26, 0, 30, tzinfo=timezone.utc).timestamp()  # 02:30 CEST (+0200)
        second = first + 3600  # 02:30 again, CET (+0100)
        hours = by_interval([Mark(first, 1, 1, "happy"), Mark(second, 1, 1, "sad")], "hour")
        assert [b.key for b in hours] == ["2025-10-26 02:00 +0200", "2025-10-26 02:00 +0100"]
        day_25h, next_day = by_interval([Mark(first, 1, 1, "happy"), Mark(first + 86400 + 3600, 1, 1, "sad")], "day")
        assert day_25h.end - day_25h.start == 25 * 3600 and day_25h.end == next_day.start
        times, _ = step_points([day_25h, next_day], ["happy", "sad"])
        assert times == [day_25h.start, next_day.start, next_day.end]  # adjacent days: no false gap
    finally:
        monkeypatch.undo()  # TZ as it was, then the C library told so
        clock.tzset()


def test_durations_take_either_case():
    from edge.report import parse_since

    assert parse_since("24H", T0) == parse_since("24h", T0) == T0 - 86400
    assert parse_since("2W", T0) == T0 - 14 * 86400


def test_an_export_never_overwrites_the_store_or_another_output(tmp_path):
    """`--json events.db` would replace the logged history with its export: refused before anything is written."""
    db = known_store(tmp_path)
    before = db.read_bytes()
    (tmp_path / "sub").mkdir()
    for args, expected in [(["--json", str(db)], f"error: --json {db}: is the event store itself"),
                           (["--csv", str(tmp_path / "sub" / ".." / "events.db")], "is the event store itself"),
                           (["--csv", f"{db}-wal"], "is the event store itself"),
                           (["--csv", str(tmp_path / "x"), "--json", str(tmp_path / "sub" / ".." / "x")],
                            "is also the --csv file")]:
        done = report("--db", str(db), "--since", "all", *args)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert expected in done.stderr, done.stderr
    assert db.read_bytes() == before and not (tmp_path / "x").exists()
    assert "8 events" in report("--db", str(db), "--since", "all").stdout


def test_a_failed_export_leaves_no_partial_file_and_no_traceback(tmp_path):
    """A full card: one error line; the earlier export stays whole and no `.part` file is left."""
    db = known_store(tmp_path)
    full = report("--db", str(db), "--since", "all", "--csv", "/dev/full")
    assert full.returncode == 2 and "Traceback" not in full.stderr and "Exception ignored" not in full.stderr
    assert full.stderr.strip() == "error: --csv /dev/full: cannot write (No space left on device)"
    assert Path("/dev/full").is_char_device()  # a device is written in place, never replaced by a file
    to_stdout = report("--db", str(db), "--since", "all", "--csv", "/dev/stdout")
    assert to_stdout.returncode == 0 and to_stdout.stdout.startswith("ts,time,session,"), to_stdout.stderr
    export = tmp_path / "e.json"
    assert report("--db", str(db), "--since", "all", "--json", str(export)).returncode == 0
    whole = export.read_text()
    assert len(json.loads(whole)) == len(KNOWN)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "e.json.part").mkdir()  # the staging name is taken: the write fails half way through set-up
    failed = report("--db", str(db), "--since", "all", "--json", str(blocked / "e.json"))
    assert failed.returncode == 2 and not (blocked / "e.json").exists()
    assert export.read_text() == whole and sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".part") == []


def test_until_alone_names_the_default_since(tmp_path):
    db = known_store(tmp_path)  # events in 2025: --until 2025-06-02 lies before the default --since (24h ago)
    done = report("--db", str(db), "--until", "2025-06-02")
    assert done.returncode == 2
    assert "is before --since (default: 24h ago); add --since all or an earlier --since" in done.stderr
    assert "2 events" not in done.stdout
    assert "8 events" in report("--db", str(db), "--since", "all", "--until", "2025-06-02").stdout


def test_a_newer_store_is_named_as_such(tmp_path):
    import sqlite3

    db = known_store(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 2")
    conn.close()
    done = report("--db", str(db), "--since", "all")
    assert done.returncode == 2
    assert "schema version 2 is newer than this program (1); update the program" in done.stderr


def test_a_report_on_a_stopped_store_leaves_nothing_beside_it(tmp_path):
    """`mode=ro` on a cleanly stopped store created -wal and -shm and left them, owned by whoever ran the report:
    on a group-writable stick the service's user then could not write them, and stored nothing more."""
    db = known_store(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.db"]
    done = report("--db", str(db), "--since", "all", "--by", "hour")
    assert done.returncode == 0, done.stderr
    assert f"{len(KNOWN)} events" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.db"]


def test_a_report_reads_a_running_store_through_its_wal(tmp_path):
    """A store open for writing keeps events in its WAL until a checkpoint: the report must see them."""
    db = known_store(tmp_path)
    store = EventStore(db)
    try:
        store.insert([event(T0 + 7000, "surprise", 4)])
        assert (tmp_path / "events.db-wal").exists()
        done = report("--db", str(db), "--since", "all")
        assert done.returncode == 0, done.stderr
        assert f"{len(KNOWN) + 1} events" in done.stdout
    finally:
        store.close()


def test_a_store_this_user_may_not_read_is_one_line_with_the_sudo_hint(tmp_path):
    """In a folder the user may enter, a store file only root may read: SQLite said 'unable to open database
    file'; the report says why and what to do."""
    import os
    import shutil
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    folder = Path(tempfile.mkdtemp(prefix="edge-unreadable-"))  # pytest's own folders are private to root
    try:
        folder.chmod(0o755)
        db = folder / "events.db"
        shutil.copy(known_store(tmp_path), db)
        db.chmod(0o600)
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                               "edge", "report", "--db", str(db), "--since", "all"],
                              cwd=REPO, env=service_env(TZ="UTC"), capture_output=True, text=True, timeout=120)
        if "No module named" in done.stderr or "Permission denied: '" in done.stderr:
            pytest.skip(f"another user cannot run this checkout: {done.stderr.strip()[-200:]}")
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == (f"error: store {db}: cannot read (permission denied); run with sudo (the "
                                       "service's store is readable by root only)")
    finally:
        shutil.rmtree(folder)


def test_a_store_damaged_past_its_header_is_one_line_naming_it(tmp_path):
    """Its first page (the schema) reads, its events do not: the error names the file, as every other store
    error does."""
    db = known_store(tmp_path)
    page_size = 4096
    data = bytearray(db.read_bytes())
    assert len(data) > page_size
    data[page_size:] = b"\xff" * (len(data) - page_size)
    db.write_bytes(bytes(data))
    done = report("--db", str(db), "--since", "all")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith(f"error: store {db}: cannot read"), done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_stopped_store_in_a_folder_this_user_cannot_write_is_read(tmp_path):
    """A cleanly stopped store (its -wal and -shm gone) in another user's folder or on read-only media: SQLite
    cannot create the -shm there, so the report reads it as immutable instead of failing."""
    import os
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="edge-readonly-"))
    try:
        folder.chmod(0o755)
        db = folder / "events.db"
        shutil.copy(known_store(tmp_path), db)
        db.chmod(0o644)
        folder.chmod(0o555)
        as_other_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        probe = subprocess.run([*as_other_user, sys.executable, "-c", "import edge.report"], cwd=REPO,
                               env=service_env(TZ="UTC"), capture_output=True, text=True, timeout=60)
        if probe.returncode != 0:
            pytest.skip(f"another user cannot run this checkout: {probe.stderr.strip()[-200:]}")
        done = subprocess.run([*as_other_user, sys.executable, "-m", "edge", "report", "--db", str(db), "--since", "all"],
                              cwd=REPO, env=service_env(TZ="UTC"), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert f"{len(KNOWN)} events" in done.stdout
        assert sorted(p.name for p in folder.iterdir()) == ["events.db"]
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def test_an_export_through_a_link_updates_its_target_and_a_private_export_stays_private(tmp_path):
    db = known_store(tmp_path)
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "events.csv"
    target.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    assert report("--db", str(db), "--since", "all", "--csv", str(link)).returncode == 0
    assert link.is_symlink() and len(target.read_text().splitlines()) == 1 + len(KNOWN)
    private = tmp_path / "private.json"
    private.write_text("[]\n")
    private.chmod(0o600)
    assert report("--db", str(db), "--since", "all", "--json", str(private)).returncode == 0
    assert len(json.loads(private.read_text())) == len(KNOWN) and private.stat().st_mode & 0o777 == 0o600


def test_an_export_to_dash_goes_to_stdout_and_the_table_to_stderr(tmp_path):
    db = known_store(tmp_path)
    done = report("--db", str(db), "--since", "all", "--csv", "-")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(done.stdout.splitlines()))
    assert [r["label"] for r in rows] == [label for _, label, _ in KNOWN]
    assert done.stderr.startswith(f"8 events in {db}") and "csv: stdout" in done.stderr
    assert not (REPO / "-").exists()  # no file named "-" beside the checkout
    as_json = report("--db", str(db), "--since", "all", "--json", "-")
    assert [e["label"] for e in json.loads(as_json.stdout)] == [label for _, label, _ in KNOWN]
    plot = report("--db", str(db), "--since", "all", "--png", "-")
    assert plot.returncode == 2 and plot.stderr.startswith("error: --png -: ")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_under_stdout_is_one_line(tmp_path):
    db = known_store(tmp_path)
    for extra in ([], ["--csv", "-"]):
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-m", "edge", "report", "--db", str(db), "--since", "all", *extra],
                                  cwd=REPO, env=service_env(TZ="UTC"), stdout=full, stderr=subprocess.PIPE,
                                  text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "No space left on device" in done.stderr, done.stderr


def test_a_local_time_the_clocks_skip_is_named_as_such(monkeypatch):
    """Europe/Berlin, 30 Mar 2025: 02:00-03:00 does not happen. Before, 02:30 silently meant 03:30, and a range
    02:30-03:30 failed with a misleading "--until must be later than --since"."""
    import time as clock

    from edge.errors import EdgeError
    from edge.report import parse_since

    monkeypatch.setenv("TZ", "Europe/Berlin")
    clock.tzset()
    try:
        with pytest.raises(EdgeError, match="no such local time here"):
            parse_since("2025-03-30T02:30")
        assert parse_since("2025-03-30T03:30") == datetime(2025, 3, 30, 1, 30, tzinfo=timezone.utc).timestamp()
        assert parse_since("2025-03-30T02:30+01:00") == datetime(2025, 3, 30, 1, 30, tzinfo=timezone.utc).timestamp()
        repeated = parse_since("2025-10-26T02:30")  # the hour that happens twice: its first time
        assert repeated == datetime(2025, 10, 26, 0, 30, tzinfo=timezone.utc).timestamp()
    finally:
        monkeypatch.undo()
        clock.tzset()


def test_a_bare_date_whose_midnight_the_clocks_skip_is_the_day_s_first_moment(monkeypatch):
    """America/Santiago, 6 Sep 2026: the clocks go from 00:00 straight to 01:00. `--since 2026-09-06` was refused
    as a skipped time the user never typed; it is the day's first moment, where a `--by day` row starts."""
    import time as clock

    from edge.errors import EdgeError
    from edge.report import interval_start, parse_since

    monkeypatch.setenv("TZ", "America/Santiago")
    clock.tzset()
    try:
        first_moment = datetime(2026, 9, 6, 4, 0, tzinfo=timezone.utc).timestamp()  # 01:00 -03
        assert parse_since("2026-09-06") == parse_since("2026-09-06", flag="--until") == first_moment
        assert interval_start(first_moment + 3600, "day") == first_moment
        assert parse_since("2026-09-05") == datetime(2026, 9, 5, 4, 0, tzinfo=timezone.utc).timestamp()  # -04
        with pytest.raises(EdgeError, match="no such local time here"):
            parse_since("2026-09-06T00:30")  # a time typed inside the skipped hour is still refused
    finally:
        monkeypatch.undo()
        clock.tzset()
