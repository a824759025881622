"""Rough edges of `python -m edge` found in a user review, each a one-line answer that says what to do:
the report's missing default store says where a local run keeps its own; a Python without the edge requirements is
one line, not a traceback; the events summary tells this run's lines from the file's; a bad flag value names the
flag; a missing --config file is `file not found`; a mistyped command gets a suggestion; report --help shows --by's
default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.errors import EdgeError
from tests.edge.helpers import REPO, edge_env, error_lines, main_in_process, run_edge
from tests.edge.test_sinks_throttle import BASE_TS, result

RUN_TIMEOUT_S = 120
NOT_INSTALLED = "not installed in this environment ("
SETUP_HINT = ("run .venv-edge/bin/python -m edge (bash scripts/demo.sh makes it) "
              "or pip install -r requirements-edge.txt")
LOCAL_STORE_HINT = ("(give --db PATH; a run with --store.enabled true keeps its store in its --out folder (out/ of the "
                    "folder it ran in by default): --db out/events.db, unless --store.path named another file)")


# --- 1. report: the service's store missing -------------------------------------------------------------------

def test_report_without_the_default_store_says_where_a_local_run_keeps_its_store(tmp_path, monkeypatch, capsys):
    import edge.commands.report as report_command

    missing = tmp_path / "var" / "events.db"
    monkeypatch.setattr(report_command, "DEFAULT_DB", missing)
    code, err = main_in_process(["report", "--since", "24h"], monkeypatch, capsys)
    assert code == 2
    assert err.strip().splitlines() == [f"error: store {missing}: no such file {LOCAL_STORE_HINT}"]


def test_report_of_a_named_missing_store_has_no_hint(tmp_path, monkeypatch, capsys):
    code, err = main_in_process(["report", "--db", str(tmp_path / "none.db")], monkeypatch, capsys)
    assert code == 2 and err.strip().splitlines() == [f"error: store {tmp_path / 'none.db'}: no such file"]


@pytest.mark.parametrize("argv, flag", [(["report", "--csv", ""], "argument --csv"),
                                        (["report", "--db", ""], "argument --db"),
                                        (["photo", ""], "argument image"),
                                        (["photo", "x.png", "--out", ""], "argument --out"),
                                        (["--config", ""], "argument --config")])
def test_an_empty_path_is_refused_not_taken_as_the_working_folder(argv, flag, monkeypatch, capsys):
    """`--csv "$OUT"` with OUT unset would otherwise write into (or read) the folder the command ran in."""
    code, err = main_in_process(argv, monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: command line: {flag}: empty path (see python -m edge")


def test_report_of_the_events_log_says_it_is_not_a_store(tmp_path, monkeypatch, capsys):
    log = tmp_path / "events.jsonl"
    log.write_text('{"ts": 1.0, "track_id": 1, "label": "happy"}\n')
    code, err = main_in_process(["report", "--db", str(log)], monkeypatch, capsys)
    assert code == 2 and err.strip().splitlines() == [
        f"error: store {log}: is a text file, not an SQLite event store (an events log such as events.jsonl is "
        "read as it is; runs keep a store with --store.enabled true)"]


def test_the_hint_names_where_a_run_with_the_store_on_puts_it(emotion_model, tmp_path):
    """`--store.enabled true` without --out, --store.path or $STATE_DIRECTORY: out/events.db where it ran."""
    env = edge_env()
    env.pop("STATE_DIRECTORY", None)
    run = [sys.executable, "-m", "edge", "--source", "demo", "--headless", "--max-frames", "30", "--store.enabled",
           "true", "--model", str(emotion_model)]
    done = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "events.db").is_file(), sorted(p.name for p in tmp_path.rglob("*"))
    report = subprocess.run([sys.executable, "-m", "edge", "report", "--db", "out/events.db", "--since", "all"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert report.returncode == 0 and "events in out/events.db" in report.stdout, report.stderr


# --- 2. a Python without the edge requirements ----------------------------------------------------------------

def bare_python_lacks_requirements() -> bool:
    """Whether this interpreter without site-packages (-S) lacks what the edge imports."""
    probe = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('cv2', 'numpy', 'pydantic')))"
    return subprocess.run([sys.executable, "-S", "-c", probe], timeout=RUN_TIMEOUT_S).returncode == 0


@pytest.mark.parametrize("command", [["--source", "demo", "--headless"], ["report", "--since", "24h"],
                                     ["photo", "face.png"]])
def test_python_without_the_requirements_is_one_line(tmp_path, command):
    if not bare_python_lacks_requirements():
        pytest.skip("this Python finds the edge requirements even without site-packages")
    done = subprocess.run([sys.executable, "-S", "-m", "edge", *command], cwd=tmp_path, env=edge_env(),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert f"{NOT_INSTALLED}{sys.executable}); {SETUP_HINT}" in lines[0]


@pytest.mark.parametrize("module", ["edge.bench", "edge.fetch_detector"])
def test_the_benchmark_and_the_fetch_without_the_requirements_are_one_line_too(tmp_path, module):
    if not bare_python_lacks_requirements():
        pytest.skip("this Python finds the edge requirements even without site-packages")
    done = subprocess.run([sys.executable, "-S", "-m", module, "--help"], cwd=tmp_path, env=edge_env(),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{NOT_INSTALLED}{sys.executable}); {SETUP_HINT}" in lines[0], done.stderr


def raising(exc: BaseException):
    def dispatch(_argv):  # noqa: ANN001, ANN202 - stands in for edge.cli.dispatch
        raise exc
    return dispatch


def test_a_missing_third_party_module_is_one_line(monkeypatch, capsys):
    import edge.cli

    monkeypatch.setattr(edge.cli, "dispatch", raising(ModuleNotFoundError("no", name="surely_absent_module_x")))
    code, err = main_in_process([], monkeypatch, capsys)
    assert code == 2
    assert err.strip().splitlines() == [f"error: surely_absent_module_x: {NOT_INSTALLED}{sys.executable}); "
                                        f"{SETUP_HINT}"]


@pytest.mark.parametrize("name", ["edge.nonexistent", "numpy", "numpy.not_a_submodule", "tensorflow", None])
def test_a_missing_edge_module_or_a_failure_inside_an_installed_one_stays_a_traceback(monkeypatch, capsys, name):
    """A missing edge module, a module that is installed (the failure is inside it), one the edge refuses on
    purpose (edge.no_tensorflow) or a ModuleNotFoundError without a name: bugs, not a setup to fix."""
    import edge.cli

    monkeypatch.setattr(edge.cli, "dispatch", raising(ModuleNotFoundError("no", name=name)))
    with pytest.raises(ModuleNotFoundError):
        main_in_process([], monkeypatch, capsys)


@pytest.mark.parametrize("name", ["tensorflow", "keras.layers", "sounddevice"])
def test_a_module_the_edge_refuses_stays_a_traceback_even_where_it_is_not_installed(monkeypatch, capsys, name):
    """edge.no_tensorflow refuses these while mediapipe imports: one escaping is a bug, not a missing requirement."""
    import edge.cli
    import edge.requirements_check as requirements_check

    monkeypatch.setattr(requirements_check, "is_findable", lambda _name: False)
    monkeypatch.setattr(edge.cli, "dispatch", raising(ModuleNotFoundError("blocked", name=name)))
    with pytest.raises(ModuleNotFoundError):
        main_in_process([], monkeypatch, capsys)


# --- 3. the events summary of an appended-to log ----------------------------------------------------------------

def sink_run(path: Path, events: int) -> str:
    from edge.sinks.events import JsonlEventSink

    sink = JsonlEventSink(path, interval_s=0.0)
    for index in range(events):
        sink.write(result(BASE_TS + index, 1, index=index))
    sink.close()
    return sink.describe()


def test_the_summary_counts_this_runs_lines_and_the_files(tmp_path):
    path = tmp_path / "events.jsonl"
    assert sink_run(path, 1).endswith("(1 line)")
    assert sink_run(path, 2).endswith("(2 lines from this run, 3 in the file)")
    assert sink_run(tmp_path / "fresh.jsonl", 10).endswith("(10 lines)")


def test_a_large_appended_log_is_not_read_and_a_truncated_one_not_miscounted(tmp_path, monkeypatch):
    """Counting reads the whole file at every stop: above COUNT_MAX_BYTES only its size is given. A log truncated in
    place meanwhile (logrotate's copytruncate) holds fewer lines than this run wrote: no count is made up."""
    import edge.sinks.events as events

    path = tmp_path / "events.jsonl"
    path.write_bytes(b"{}\n" * 1000)
    monkeypatch.setattr(events, "COUNT_MAX_BYTES", 100)
    monkeypatch.setattr(events, "count_lines", lambda _path: pytest.fail("a large log was read to count it"))
    assert sink_run(path, 2).endswith("(2 lines from this run, appended to a 0.0 MB file)")
    monkeypatch.undo()

    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("{}\n")
    sink = events.JsonlEventSink(truncated, interval_s=0.0)
    for index in range(3):
        sink.write(result(BASE_TS + index, 1, index=index))
    sink.close()
    truncated.write_text("{}\n")  # copytruncate, then one line
    assert sink.describe().endswith("(3 lines)")


def test_two_runs_into_one_folder_say_so(emotion_model, tmp_path):
    args = ("--source", "demo", "--headless", "--max-frames", "2", "--model", str(emotion_model))
    first, second = (run_edge(*args, cwd=tmp_path, timeout=RUN_TIMEOUT_S) for _ in range(2))
    events = (tmp_path / "out" / "events.jsonl").resolve()
    assert first.returncode == 0 and f"results: events: {events} (1 line)\n" in first.stdout, first.stderr[-2000:]
    assert f"results: events: {events} (1 line from this run, 2 in the file)" in second.stdout, second.stderr[-2000:]


# --- 4. a bad flag value names the flag; 5. a missing --config file ---------------------------------------------

def config_of(*argv: str):
    from edge.cli import build_parser
    from edge.commands.options import config_from_args

    return config_from_args(build_parser("run")[1].parse_args(list(argv)))


@pytest.mark.parametrize("argv, line", [
    (["--max-frames", "abc"], "error: command line: --max-frames abc: max_frames: Input should be a valid integer, "
                              "unable to parse string as an integer"),
    (["--max_frames", "0"], "error: command line: --max_frames 0: max_frames: Input should be greater than or equal "
                            "to 1"),
    (["--source.width", "wide"], "error: command line: --source.width wide: source.width: Input should be a valid "
                                 "integer, unable to parse string as an integer"),
    (["--detector", "yolo"], "error: command line: --detector yolo: detector.type: Input should be 'auto', 'haar' or "
                             "'mediapipe'"),
    (["--max-frames", "true"], "error: command line: --max-frames true: max_frames: expected a number, not true"),
    (["--loop", "--source.loop", "yes", "--max-frames", "x"], "error: command line: --max-frames x: max_frames: "
                                                              "Input should be a valid integer, unable to parse "
                                                              "string as an integer"),
])
def test_a_bad_value_from_a_flag_names_the_flag(argv, line):
    with pytest.raises(EdgeError) as caught:
        config_of(*argv)
    assert caught.value.one_line() == line


def test_a_bad_value_from_the_file_still_names_the_file_and_key(tmp_path):
    config = tmp_path / "edge.yaml"
    config.write_text("max_frames: abc\n")
    with pytest.raises(EdgeError) as caught:
        config_of("--config", str(config), "--source", "demo")
    assert caught.value.one_line().startswith(f"error: config {config}: max_frames: Input should be a valid integer")
    with pytest.raises(EdgeError) as caught:  # the flag's value replaces the file's: the flag is named
        config_of("--config", str(config), "--max-frames", "-1")
    assert caught.value.one_line() == ("error: command line: --max-frames -1: max_frames: Input should be greater "
                                       "than or equal to 1")


def test_a_missing_config_file_is_file_not_found(tmp_path):
    from edge.config import load_config

    with pytest.raises(EdgeError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert caught.value.one_line() == f"error: config {tmp_path / 'nope.yaml'}: file not found"


# --- 6. a mistyped command; 7. report --help ----------------------------------------------------------------------

@pytest.mark.parametrize("argv, unrecognized", [
    (["fotos", "x.jpg"], "fotos x.jpg (did you mean: photo?)"),
    (["reprot", "--since", "24h"], "reprot --since 24h (did you mean: report?)"),
    (["--headless", "servce"], "servce (did you mean: service?)"),
    (["--headless", "service"], "service (the command goes first: python -m edge service ...)"),
    (["x.jpg"], "x.jpg"),
    (["--sorce", "photo.jpg"], "--sorce photo.jpg"),  # an unknown flag's value is no command
])
def test_a_word_close_to_a_command_gets_a_suggestion(monkeypatch, capsys, argv, unrecognized):
    code, err = main_in_process(argv, monkeypatch, capsys)
    assert code == 2
    assert error_lines(err) == [f"error: command line: unrecognized arguments: {unrecognized} "
                                "(see python -m edge --help)"]


def test_report_help_shows_the_default_of_by():
    from edge.cli import build_parser

    text = " ".join(build_parser("report")[1].format_help().split())
    assert "one table row per interval or per track (default: hour)" in text


def test_report_help_in_a_subprocess_shows_it_too():
    done = subprocess.run([sys.executable, "-m", "edge", "report", "--help"], cwd=REPO, env=edge_env(),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0 and "(default: hour)" in " ".join(done.stdout.split()), done.stderr
