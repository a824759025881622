"""`python -m edge --web ...` as a user runs it: the view starts alongside the loop and stops with it."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.web.conftest import REPO, TOKEN
from tests.web.webclient import read_mjpeg, request

URL_LINE = re.compile(r"web view at (http://\S+/)")
START_TIMEOUT_S = 90


def edge_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "EDGE_WEB_TOKEN", "NOTIFY_SOCKET", "STATE_DIRECTORY")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


class EdgeProcess:
    """`python -m edge ARGS` with its stdout lines collected by a thread; always ended by the test."""

    def __init__(self, *args: str, **env: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "edge", *args], cwd=REPO, env=edge_env(**env),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_url(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.output.append(line)
            if (match := URL_LINE.search(line)):
                return match.group(1)
        raise AssertionError(f"no web view URL logged: {''.join(self.output)} {self.proc.stderr.read()}")

    def wait_healthy(self, url: str, headers: dict[str, str] | None = None) -> dict:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            reply = request(url, "/api/health", headers=headers)
            if reply.status == 200:
                return reply.json()
            assert reply.status == 503 and time.monotonic() < deadline, reply.text
            time.sleep(0.2)

    def interrupt(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGINT)
        stdout_rest, stderr = self.proc.communicate(timeout=60)
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return self.proc.returncode, "".join(self.output) + (stdout_rest or ""), stderr

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def test_web_flag_serves_the_running_pipeline(emotion_model, tmp_path: Path):
    edge = EdgeProcess("--source", "demo", "--loop", "--headless", "--model", str(emotion_model),
                       "--out", str(tmp_path), "--web", "127.0.0.1:0")
    try:
        url = edge.wait_for_url()
        assert url.startswith("http://127.0.0.1:")
        health = edge.wait_healthy(url)
        assert health["status"] == "ok" and health["frames"] >= 1
        state = request(url, "/api/state").json()
        assert state["frame"]["source"] == "demo"
        assert read_mjpeg(url, 1)[0][:2] == b"\xff\xd8"
        code, out, err = edge.interrupt()
    finally:
        edge.kill()
    assert code == 0, err
    assert "web view was at" in out and "Traceback" not in err


SHORT_DEMO_FRAMES = 30  # one second of clip: a bounded demo would end the run within about a second
WATCH_S = 3.0
DEMO_FPS = 30


def test_with_no_camera_the_web_view_shows_the_demo_in_real_time_until_stopped(emotion_model, tmp_path: Path):
    """No source given, no camera, no display, but a web view: someone is watching, so the demo fallback loops in
    real time like a camera, instead of ending the run (and the view) after one pass of the clip."""
    edge = EdgeProcess("--model", str(emotion_model), "--detector", "haar", "--out", str(tmp_path),
                       "--source.demo_frames", str(SHORT_DEMO_FRAMES), "--web", "127.0.0.1:0")
    try:
        url = edge.wait_for_url()
        first = edge.wait_healthy(url)["frames"]
        time.sleep(WATCH_S)
        assert edge.proc.poll() is None, "the run ended while the web view was watched"
        played = request(url, "/api/health").json()["frames"] - first
        assert SHORT_DEMO_FRAMES < played <= DEMO_FPS * (WATCH_S + 1)  # on past the clip, at the clip's pace
        code, out, err = edge.interrupt()
    finally:
        edge.kill()
    assert code == 0, err
    assert "falling back to the built-in demo source (looping)" in out


def test_service_style_config_with_token_from_environment(emotion_model, tmp_path: Path):
    config = tmp_path / "edge.yaml"
    config.write_text(f"source: {{uri: demo, loop: true}}\nclassifier: {{model: {emotion_model}}}\n"
                      f"output: {{dir: {tmp_path}, window: 'off'}}\nweb: {{enabled: true, host: 127.0.0.2, port: 0}}\n")
    edge = EdgeProcess("--config", str(config), EDGE_WEB_TOKEN=TOKEN)
    try:
        url = edge.wait_for_url()
        assert url.startswith("http://127.0.0.2:")
        assert request(url, "/api/health").status == 401
        assert edge.wait_healthy(url, {"X-Edge-Token": TOKEN})["status"] == "ok"
        code, _, err = edge.interrupt()
    finally:
        edge.kill()
    assert code == 0, err


def test_service_serves_the_web_view_from_its_config(emotion_model, tmp_path: Path):
    config = tmp_path / "service.yaml"
    config.write_text(f"source: {{uri: demo, loop: true}}\nclassifier: {{model: {emotion_model}}}\n"
                      f"detector: {{type: haar}}\noutput: {{dir: {tmp_path}, events: false}}\n"
                      f"store: {{path: {tmp_path / 'events.db'}}}\nweb: {{enabled: true, port: 0}}\n")
    edge = EdgeProcess("service", "--config", str(config))
    try:
        url = edge.wait_for_url()
        assert url.startswith("http://127.0.0.1:")
        health = edge.wait_healthy(url)
        assert health["status"] == "ok" and health["frames"] >= 1
        assert request(url, "/api/state").json()["frame"]["source"] == "demo"
        assert read_mjpeg(url, 1)[0][:2] == b"\xff\xd8"
        code, out, err = edge.interrupt()
    finally:
        edge.kill()
    assert code == 0, err
    assert "web view was at" in out and "service: " in out and "Traceback" not in err


MISSING_CAMERA = "/dev/video97"


def service_waiting_for_its_camera(emotion_model: Path, tmp_path: Path) -> EdgeProcess:
    """A service with the web view on whose camera is missing: up (READY=1), retrying, with no frame."""
    config = tmp_path / "service.yaml"
    config.write_text(f"source: {{uri: {MISSING_CAMERA}}}\nclassifier: {{model: {emotion_model}}}\n"
                      f"store: {{path: {tmp_path / 'events.db'}}}\nweb: {{enabled: true, port: 0}}\n")
    return EdgeProcess("service", "--config", str(config))


def test_a_service_waiting_for_its_camera_says_so_in_the_web_view(emotion_model, tmp_path: Path):
    """Health and state name what it waits for, not just "starting"."""
    edge = service_waiting_for_its_camera(emotion_model, tmp_path)
    try:
        url = edge.wait_for_url()
        deadline = time.monotonic() + START_TIMEOUT_S
        while (reply := request(url, "/api/health")).json()["status"] == "starting":
            assert time.monotonic() < deadline, reply.text
            time.sleep(0.2)
        body = reply.json()
        assert reply.status == 503 and body["status"] == "waiting" and body["frames"] == 0
        assert body["waiting_for"].startswith(f"waiting for source {MISSING_CAMERA}: cannot open camera"), body
        assert request(url, "/api/state").json()["waiting"] == body["waiting_for"]
        code, out, err = edge.interrupt()
    finally:
        edge.kill()
    assert code == 0, err
    assert "Traceback" not in err


def test_service_checks_web_settings_before_starting(emotion_model, tmp_path: Path):
    config = tmp_path / "service.yaml"
    config.write_text(f"classifier: {{model: {emotion_model}}}\nweb: {{enabled: true, host: 0.0.0.0}}\n")
    for extra in ([], ["--check-config"]):
        command = [sys.executable, "-m", "edge", "service", "--config", str(config), *extra]
        result = subprocess.run(command, cwd=REPO, env=edge_env(), capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (extra, result.stderr)
        assert result.stderr.strip().splitlines() == [
            "error: web 0.0.0.0: binding beyond loopback needs an access token: set web.token, --web-token or "
            "$EDGE_WEB_TOKEN"], extra


def test_a_chart_window_with_too_many_bars_is_one_config_error(emotion_model, tmp_path: Path):
    """A 24 h chart window at 10 s a bar (8,640 bars) held every frame up to 1.3 s while a page polled: refused,
    with the bar width that would fit; a 1 h window (360 bars) runs."""
    config = tmp_path / "service.yaml"
    config.write_text(f"classifier: {{model: {emotion_model}}}\nweb: {{enabled: true, stats_window_s: 86400}}\n")
    command = [sys.executable, "-m", "edge", "service", "--config", str(config), "--check-config"]
    result = subprocess.run(command, cwd=REPO, env=edge_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: config {config}: web: stats_window_s / stats_bucket_s makes 8640 chart bars, more than 360; raise "
        "stats_bucket_s to 240 or more"]
    for web in ("enabled: true, stats_window_s: 3600", "enabled: false, stats_window_s: 86400"):  # 360 bars; off
        config.write_text(f"classifier: {{model: {emotion_model}}}\nweb: {{{web}}}\n")
        result = subprocess.run(command, cwd=REPO, env=edge_env(), capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (web, result.stderr)


def test_a_chart_window_with_too_many_bars_is_refused_when_the_web_flag_turns_the_view_on(tmp_path: Path):
    """`--web` turns on a view the file left off: its checks apply then too (they were skipped, and a day's window
    at one bar a second ran, each poll serialising 86,400 bars)."""
    config = tmp_path / "service.yaml"
    config.write_text("web: {stats_window_s: 86400, stats_bucket_s: 1}\n")
    expected = [f"error: config {config}: web: stats_window_s / stats_bucket_s makes 86400 chart bars, more than "
                "360; raise stats_bucket_s to 240 or more"]
    for command in (["--config", str(config), "--source", "demo", "--headless", "--web", ":0"],
                    ["service", "--config", str(config), "--check-config", "--web"]):
        result = subprocess.run([sys.executable, "-m", "edge", *command], cwd=REPO, env=edge_env(),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and result.stderr.strip().splitlines() == expected, (command, result.stderr)


def test_the_chart_bar_suggestion_fits() -> None:
    from edge.errors import EdgeError  # noqa: F401 - pydantic raises its own ValidationError here
    from pydantic import ValidationError

    from edge.web.config import WebConfig

    with pytest.raises(ValidationError, match="makes 361 chart bars, more than 360; raise stats_bucket_s to 10.003 "):
        WebConfig(enabled=True, stats_window_s=3601, stats_bucket_s=10)
    WebConfig(enabled=True, stats_window_s=3601, stats_bucket_s=10.003)


def test_beyond_loopback_without_token_is_one_error_line():
    command = [sys.executable, "-m", "edge", "--source", "demo", "--headless", "--web", "0.0.0.0:0"]  # before models
    result = subprocess.run(command, cwd=REPO, env=edge_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: web 0.0.0.0: binding beyond loopback needs an access token: set web.token, "
                      "--web-token or $EDGE_WEB_TOKEN"]
    assert "Traceback" not in result.stderr


def test_bad_web_address_is_one_error_line():
    command = [sys.executable, "-m", "edge", "--source", "demo", "--headless", "--web", "localhost:99999"]
    result = subprocess.run(command, cwd=REPO, env=edge_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "error: --web localhost:99999: port must be 0..65535" in result.stderr and "Traceback" not in result.stderr


def test_busy_port_is_one_error_line_and_a_transient_exit():
    import socket

    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        command = [sys.executable, "-m", "edge", "--source", "demo", "--headless", "--web", f":{port}"]
        result = subprocess.run(command, cwd=REPO, env=edge_env(), capture_output=True, text=True, timeout=60)
    finally:
        holder.close()
    assert result.returncode == 1, result.stderr  # not 2: systemd restarts the service (RestartPreventExitStatus=2)
    assert result.stderr.strip().splitlines() == [f"error: web 127.0.0.1:{port}: cannot listen (Address already in "
                                                  "use); is another instance running?"]


def test_a_client_that_never_finishes_its_request_is_dropped():
    """Slowloris, or a stream viewer that stopped reading: without a socket timeout each holds a thread for ever."""
    import socket

    from flask import Flask

    from edge.web.server import WebServer

    server = WebServer(Flask("timeout-test"), "127.0.0.1", 0, socket_timeout_s=0.5)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as client:
            client.sendall(b"GET / HTTP/1.1\r\n")  # and never the rest of the request
            assert client.recv(1024) == b""  # the server hung up (without its timeout: socket.timeout here)
    finally:
        server.close()


def test_connections_past_the_cap_are_answered_503_and_served_again_once_some_end():
    import socket
    import urllib.error
    import urllib.request

    from flask import Flask

    from edge.web.server import WebServer

    app = Flask("cap-test")
    app.add_url_rule("/", "index", lambda: "ok")
    server = WebServer(app, "127.0.0.1", 0, socket_timeout_s=20, max_connections=2)
    server.start()
    url = f"http://127.0.0.1:{server.port}/"
    try:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=20) for _ in range(2)]
        for client in idle:
            client.sendall(b"GET / HTTP/1.1\r\n")  # both slots held by unfinished requests
        deadline = time.monotonic() + 10
        while True:  # the two connections are taken by the server thread asynchronously
            try:
                urllib.request.urlopen(url, timeout=10).read()
            except urllib.error.HTTPError as exc:
                assert exc.code == 503 and exc.headers["Retry-After"] == "5"
                assert exc.read() == b"too many connections; retry"
                break
            assert time.monotonic() < deadline, "a third connection was still served"
            time.sleep(0.05)
        assert server.refused >= 1
        for client in idle:
            client.close()
        deadline = time.monotonic() + 10
        while True:  # slots come back when the handler threads notice the closed sockets
            try:
                assert urllib.request.urlopen(url, timeout=10).read() == b"ok"
                break
            except urllib.error.HTTPError as exc:
                assert exc.code == 503 and time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        server.close()
