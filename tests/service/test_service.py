"""`python -m edge service` as systemd runs it: notify messages, SIGTERM, kill -9, a missing camera."""

from __future__ import annotations

import logging
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.service.conftest import REPO, service_args, service_env

RUN_TIMEOUT_S = 120
READY_TIMEOUT_S = 90
SUMMARY = re.compile(r"service: (\d+) events logged, (\d+) committed, (\d+) dropped")
POLL_S = 0.2


def start(model: Path, db: Path, notify=None, *extra: str, **env: str) -> subprocess.Popen:
    if notify is not None:
        env = {"NOTIFY_SOCKET": str(notify.path), **env}
    return subprocess.Popen(service_args(model, db, *extra), cwd=REPO, env=service_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    return proc.returncode, out, err


def stored(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def wait_until(predicate, proc: subprocess.Popen, timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(POLL_S)


def test_ready_watchdog_status_and_every_event_stored(service_model, notify_socket, tmp_path):
    db = tmp_path / "state" / "events.db"
    proc = start(service_model, db, notify_socket, "--max-frames", "30", WATCHDOG_USEC="1000000")
    code, out, err = finish(proc)
    assert code == 0, err[-3000:] + out[-3000:]
    fields = notify_socket.fields()
    keys = [k for k, _ in fields]
    assert "READY" in keys and "WATCHDOG" in keys and "STOPPING" in keys
    assert keys.index("READY") < keys.index("STOPPING")
    statuses = [v for k, v in fields if k == "STATUS"]
    ready_key, ready_status = fields[keys.index("READY") + 1]  # sent in READY=1's own message
    assert ready_key == "STATUS"
    assert re.search(r"fps=\d+\.\d faces=1 frames=1\b", ready_status), statuses  # the demo clip has one face
    before_ready = statuses[:statuses.index(ready_status)]  # the monitor's, while the models load (1 s ticks)
    assert all(status.startswith("starting fps=0.0 faces=0") for status in before_ready), statuses
    logged, committed, dropped = map(int, SUMMARY.search(out).groups())
    assert logged == committed == 30 and dropped == 0  # --interval 0: one event per frame
    assert stored(db) == 30


def test_sigterm_leaves_every_processed_event_in_the_store(service_model, notify_socket, tmp_path):
    db = tmp_path / "events.db"
    proc = start(service_model, db, notify_socket, "--loop")
    notify_socket.wait_for("READY", proc, READY_TIMEOUT_S)
    wait_until(lambda: db.is_file() and stored(db) >= 5, proc)
    proc.send_signal(signal.SIGTERM)
    code, out, err = finish(proc)
    assert code == 0, err[-3000:]
    logged, committed, dropped = map(int, SUMMARY.search(out).groups())
    assert logged == committed >= 5 and dropped == 0
    assert stored(db) == committed
    assert "received SIGTERM" in out


def test_kill9_leaves_a_consistent_store_that_the_next_run_appends_to(service_model, notify_socket, tmp_path):
    db = tmp_path / "events.db"
    proc = start(service_model, db, notify_socket, "--loop")
    notify_socket.wait_for("READY", proc, READY_TIMEOUT_S)
    wait_until(lambda: db.is_file() and stored(db) >= 5, proc)
    seen = stored(db)  # committed before the kill: all of it must survive
    proc.kill()
    proc.communicate(timeout=RUN_TIMEOUT_S)
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after_kill = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    assert after_kill >= seen
    conn.close()
    code, out, err = finish(start(service_model, db, None, "--max-frames", "10"))
    assert code == 0, err[-3000:]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == after_kill + 10
    assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 2
    assert conn.execute("SELECT count(DISTINCT session_id) FROM events").fetchone()[0] == 2


def test_missing_camera_waits_with_status_and_stops_on_sigterm(service_model, notify_socket, tmp_path):
    db = tmp_path / "events.db"
    proc = start(service_model, db, None, "--source", "/dev/video97", NOTIFY_SOCKET=str(notify_socket.path))
    notify_socket.wait_for("READY", proc, READY_TIMEOUT_S)  # up and waiting: boot is not held up
    assert proc.poll() is None  # still waiting for the camera, not crashed
    statuses = [v for k, v in notify_socket.fields() if k == "STATUS"]
    assert any("waiting for source /dev/video97" in s for s in statuses), statuses
    proc.send_signal(signal.SIGTERM)
    code, out, err = finish(proc)
    assert code == 0, err[-3000:]
    assert "source /dev/video97: cannot open camera" in out and "waiting for it" in out
    assert "EXTEND_TIMEOUT_USEC" not in [k for k, _ in notify_socket.fields()]


@pytest.mark.parametrize("fault", ["store text file", "store folder not writable", "window without $DISPLAY",
                                   "video on the store", "video container", "video folder not writable"])
def test_a_sink_that_cannot_work_exits_2_before_waiting_for_the_camera(service_model, notify_socket, tmp_path,
                                                                       fault):
    """The sinks are made after the camera opens; a store that can never be written or a window with no display
    must not wait (READY=1) for the camera and then fail only when it appears."""
    db, extra = tmp_path / "events.db", []
    if fault == "store text file":
        db.write_text("not a database\n")
        expected = f"error: store {db}: is a text file"
    elif fault == "store folder not writable":
        db = Path("/proc/emotion-edge-test/events.db")  # a folder no one can create, root included
        expected = f"error: store {db}: cannot create folder {db.parent}"
    elif fault == "video on the store":
        extra = ["--video", str(db)]
        expected = f"error: output.video {db}: the same file as store.path"
    elif fault == "video container":
        extra = ["--video", str(tmp_path / "run.xyz")]
        expected = f"error: output video {tmp_path / 'run.xyz'}: unsupported container ('.xyz')"
    elif fault == "video folder not writable":
        extra = ["--video", "/proc/emotion-edge-test/run.mp4"]
        expected = "error: output video /proc/emotion-edge-test/run.mp4: cannot"
    else:
        extra = ["--display.mode", "window"]
        expected = "error: display.mode window: no X11 display ($DISPLAY unset)"
    proc = start(service_model, db, notify_socket, "--source", "/dev/video97", *extra)
    try:
        code, out, err = finish(proc)
    finally:
        proc.kill()  # before the fix it waited for the camera for ever
    assert code == 2, err[-3000:]
    assert err.strip().splitlines()[-1].startswith(expected), err
    assert "Traceback" not in err and "READY" not in [k for k, _ in notify_socket.fields()]
    if fault == "store text file":
        assert db.read_text() == "not a database\n"  # left untouched


def test_duration_also_ends_the_wait_for_a_missing_camera(service_model, notify_socket, tmp_path):
    """`service --duration 2` waited for the camera for ever: the pipeline's timer starts only with the pipeline."""
    proc = start(service_model, tmp_path / "events.db", notify_socket, "--source", "/dev/video97", "--duration", "2")
    try:
        code, out, err = finish(proc)
    finally:
        proc.kill()
    assert code == 0, err[-3000:]
    assert "waiting for it" in out and "stopping: --duration 2.0 s reached while starting (models, source)" in out, out
    assert "Traceback" not in err


def test_a_source_error_that_cannot_heal_exits_2_instead_of_waiting(service_model, notify_socket, tmp_path):
    """Only an absent or busy camera is waited for; picamera2 not importable is a configuration error."""
    import importlib.util

    if importlib.util.find_spec("picamera2") is not None:
        pytest.skip("picamera2 is importable here")
    db = tmp_path / "events.db"
    proc = start(service_model, db, notify_socket, "--source", "picamera2")
    try:
        code, out, err = finish(proc)
    finally:
        proc.kill()  # before the fix it waited for ever
    assert code == 2, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [err.strip().splitlines()[-1]] and "Traceback" not in err
    assert errors[0].startswith("error: source picamera2: picamera2 not importable"), err
    assert "EXTEND_TIMEOUT_USEC" not in [k for k, _ in notify_socket.fields()]


def test_waiting_for_the_camera_loads_the_models_once(service_model, monkeypatch, caplog, tmp_path):
    """A retry first checks that the camera is there: the models are not loaded again every few seconds."""
    import edge.classifier
    from edge.config import RunConfig
    from edge.service.command import build_when_source_ready, service_config
    from edge.service.monitor import ServiceMonitor
    from edge.service.notify import Notifier
    from edge.service.thermal import ThermalProbe

    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    loads = []

    class CountedClassifier(edge.classifier.EmotionClassifier):  # the real one, counted
        def __init__(self, *args, **kwargs):
            loads.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(edge.classifier, "EmotionClassifier", CountedClassifier)
    cfg = service_config(RunConfig.model_validate({
        "source": {"uri": "/dev/video97", "backoff_initial_s": 0.01, "backoff_max_s": 0.02},
        "classifier": {"model": str(service_model)}, "detector": {"type": "haar"},
        "store": {"path": str(tmp_path / "events.db")}, "output": {"dir": str(tmp_path)}}))
    monitor = ServiceMonitor(Notifier(), ThermalProbe(tmp_path / "none", tmp_path / "none", vcgencmd=None))
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="edge.service.command"):
            assert build_when_source_ready(cfg, monitor, [], stop) is None
    finally:
        timer.cancel()
    attempts = [r for r in caplog.records if "still unavailable" in r.getMessage()]
    assert len(attempts) >= 3, caplog.text
    assert len(loads) == 1
    assert monitor.waiting == "waiting for source /dev/video97: cannot open camera (no such device or busy)"


RELEASE_S = 2.0  # how long the fake camera stays busy after a close: far beyond the retry backoff below
GIVE_UP_S = 4.0  # ends build_when_source_ready when it never gets the camera (the failing case)
CAMERA_FRAMES = 3


def test_a_camera_that_appears_is_opened_once(service_model, monkeypatch, tmp_path):
    """A retry's probe hands the camera it opened to the pipeline rather than closing it for build_pipeline to
    open again: a Pi camera opened again right after a close fails ("Failed to acquire camera" while libcamera
    still releases it), which the service took for a missing camera, loading the models on every retry."""
    import edge.sources
    from edge.config import RunConfig
    from edge.errors import SourceUnavailable
    from edge.service.command import build_when_source_ready, service_config
    from edge.service.monitor import ServiceMonitor
    from edge.service.notify import Notifier
    from edge.service.thermal import ThermalProbe
    from edge.sinks.base import NullSink
    from edge.sources.demo import DemoSource

    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    opens, closes = [], []

    class Camera(DemoSource):  # the demo clip as a camera that counts its closes
        def close(self):
            closes.append(time.monotonic())

    def open_camera(kind, uri, cfg, cancel=None):  # edge.sources._open_once for the camera: absent at first, slow to release
        opens.append(kind)
        if len(opens) == 1:
            raise SourceUnavailable(f"source {uri}", "cannot open camera (no such device or busy)")
        if closes and time.monotonic() - closes[-1] < RELEASE_S:
            raise SourceUnavailable(f"source {uri}", "cannot start camera (Failed to acquire camera)")
        return Camera(CAMERA_FRAMES)

    class WaitingShown(NullSink):  # what the web view is told while no frame came
        def __init__(self):
            self.whys = []

        def waiting(self, why):
            self.whys.append(why)

    monkeypatch.setattr(edge.sources, "_open_once", open_camera)
    shown = WaitingShown()
    cfg = service_config(RunConfig.model_validate({
        "source": {"uri": "0", "backoff_initial_s": 0.01, "backoff_max_s": 0.02},
        "classifier": {"model": str(service_model)}, "detector": {"type": "haar"}, "max_frames": CAMERA_FRAMES,
        "store": {"path": str(tmp_path / "events.db")}, "output": {"dir": str(tmp_path), "events": False}}))
    monitor = ServiceMonitor(Notifier(), ThermalProbe(tmp_path / "none", tmp_path / "none", vcgencmd=None))
    stop = threading.Event()
    timer = threading.Timer(GIVE_UP_S, stop.set)
    timer.start()
    try:
        pipeline = build_when_source_ready(cfg, monitor, [shown], stop)
    finally:
        timer.cancel()
    assert pipeline is not None, f"camera never acquired: {len(opens)} opens, {len(closes)} closes"
    assert shown.whys[0] == "waiting for source 0: cannot open camera (no such device or busy)"
    assert shown.whys[-1] == monitor.waiting == "source 0 opened: loading the models"  # not the stale reason
    try:
        assert pipeline.run().frames == CAMERA_FRAMES
    finally:
        pipeline.close()
    assert opens == ["camera", "camera"] and len(closes) == 1  # missing once, then opened and closed once


def test_a_handed_over_camera_is_closed_when_the_build_fails(tmp_path):
    """build_pipeline owns the source a probe opened: a model that cannot load releases the camera too."""
    from edge.commands.run import build_pipeline
    from edge.config import RunConfig
    from edge.errors import EdgeError
    from edge.sources.demo import DemoSource

    closed = []

    class Camera(DemoSource):
        def close(self):
            closed.append(self)

    cfg = RunConfig.model_validate({"source": {"uri": "0"}, "classifier": {"model": str(tmp_path / "none.tflite")},
                                    "output": {"dir": str(tmp_path), "window": "off"}})
    camera = Camera(CAMERA_FRAMES)
    with pytest.raises(EdgeError, match="none.tflite"):
        build_pipeline(cfg, source=camera)
    assert closed == [camera]


def test_bad_config_is_one_line_error_exit_2(service_model, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = start(service_model, blocker / "events.db", None, "--max-frames", "5")
    code, out, err = finish(proc)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [err.strip().splitlines()[-1]] and "Traceback" not in err
    assert errors[0].startswith(f"error: store {blocker / 'events.db'}: cannot create folder")


def check_config(config: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "edge", "service", "--config", str(config), "--check-config", *extra]
    return subprocess.run(command, cwd=REPO, env=service_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


def test_check_config_loads_the_file_without_starting(service_model, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{uri: /dev/video97}}\nclassifier: {{model: {service_model}}}\n"
                      f"store: {{path: {tmp_path / 'events.db'}}}\n")
    done = check_config(config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"config {config}: ok (source /dev/video97, model {service_model}, "
                                        "plugins: none)"]
    assert done.stderr == "" and not (tmp_path / "events.db").exists()  # nothing was opened or created
    assert "plugins: web" in check_config(config, "--web.enabled", "true").stdout


def test_check_config_errors_are_one_line_exit_2(service_model, tmp_path):
    config, missing = tmp_path / "config.yaml", tmp_path / "none.tflite"
    cases = [(f"classifier: {{model: {service_model}, num_threads: many}}\n", f"config {config}: classifier.num_threads"),
             (f"classifier: {{model: {service_model}}}\nsourse: {{uri: 0}}\n", f"config {config}: sourse"),
             (f"classifier: {{model: {missing}}}\n", f"model {missing}: file not found")]
    # what the service itself refuses at start (exit 2), which the check passed as ok
    blocker, garbage = tmp_path / "a-file", tmp_path / "garbage.tflite"
    blocker.write_text("x")
    garbage.write_bytes(b"not a flatbuffer at all")
    model = f"classifier: {{model: {service_model}}}\n"
    cases += [(model + f"output: {{dir: {blocker}}}\n",
               f"events log {blocker / 'events.jsonl'}: cannot write ({blocker} is a file, not a folder)"),
              (model + f"detector: {{type: mediapipe, mediapipe: {{model: {missing}}}}}\n",
               f"face model {missing}: missing; run `python -m edge.fetch_detector --dest {missing}`"),
              (model + f"detector: {{type: mediapipe, mediapipe: {{model: {garbage}}}}}\n",
               f"face model {garbage}: not a TFLite model"),
              (model + f"detector: {{type: auto, mediapipe: {{model: {garbage}}}}}\n",  # auto takes any file there
               f"face model {garbage}: not a TFLite model"),
              (model + f"output: {{dir: {tmp_path}, events_file: events.db}}\nstore: {{path: {tmp_path}/events.db}}\n",
               f"store.path {tmp_path}/events.db: the same file as output.events_file")]
    for text, expected in cases:
        config.write_text(text)
        done = check_config(config)
        assert done.returncode == 2 and done.stdout == "", (text, done.stdout)
        assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "Traceback" not in done.stderr
        assert done.stderr.startswith(f"error: {expected}"), done.stderr


def test_check_config_warns_when_the_service_user_cannot_read_the_file(service_model, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{uri: /dev/video97}}\nclassifier: {{model: {service_model}}}\n"
                      f"web: {{token: \"12345678\"}}\n")
    config.chmod(0o600)  # readable by root, who runs the check, but not by the service's DynamicUser
    done = check_config(config)
    assert done.returncode == 0 and done.stdout.startswith(f"config {config}: ok"), done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"warning: config {config}: not readable by other users (mode 0600)")
    config.chmod(0o644)
    assert check_config(config).stderr == ""


def test_help_and_config_say_how_the_service_differs_from_the_run_command(caplog):
    """The service has no demo fallback and no window: its --help says so (it once gave the run command's text,
    "camera 0, else demo"), and a configured window is reported as ignored rather than dropped silently."""
    import argparse

    from edge.config import RunConfig
    from edge.service.command import add_arguments, service_config

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    helps = {spelling: action.help for action in parser._actions for spelling in action.option_strings}
    assert "no demo fallback" in helps["--source"] and "else demo" not in helps["--source"]
    assert "demo fallback" not in helps["--source.kind"]
    assert helps["--window"].startswith("ignored") and helps["--output.window"] == helps["--window"]
    assert helps["--headless"] == "has no effect: the service is always headless"

    with caplog.at_level(logging.WARNING, logger="edge.service.command"):
        cfg = service_config(RunConfig.model_validate({"output": {"window": "on"}}))
    assert cfg.output.window == "off" and cfg.source.uri == "0"
    assert "output.window on is ignored: the service never opens a window" in caplog.text
