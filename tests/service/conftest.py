"""Fixtures for the service tests: an emotion model, a notify socket, the service run as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECV_POLL_S = 0.2
DATAGRAM_MAX = 65536


@pytest.fixture(scope="session")
def service_model(emotion_model: Path) -> Path:
    return emotion_model


def service_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                        "STATE_DIRECTORY")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def service_args(model: Path, db: Path, *extra: str) -> list[str]:
    """`python -m edge service` on the demo clip with the Haar detector, logging every frame to `db`."""
    return [sys.executable, "-m", "edge", "service", "--source", "demo", "--model", str(model),
            "--detector", "haar", "--out", str(db.parent), "--output.events", "false", "--interval", "0",
            "--store.path", str(db), *extra]


@dataclass
class NotifyListener:
    """A unix datagram socket standing in for systemd's $NOTIFY_SOCKET; collects every message."""

    path: Path
    sock: socket.socket
    messages: list[str] = field(default_factory=list)

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(DATAGRAM_MAX).decode("latin-1"))
            except BlockingIOError:
                return self.messages

    def fields(self) -> list[tuple[str, str]]:
        out = []
        for message in self.drain():
            for line in message.splitlines():
                key, _, value = line.partition("=")
                out.append((key, value))
        return out

    def wait_for(self, key: str, proc: subprocess.Popen, timeout: float) -> str:
        """The first value sent for `key` (e.g. READY), polling until the process ends or `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for k, value in self.fields():
                if k == key:
                    return value
            if proc.poll() is not None:
                break
            time.sleep(RECV_POLL_S)
        for k, value in self.fields():
            if k == key:
                return value
        raise AssertionError(f"no {key}= notification; got {self.messages!r}")


@pytest.fixture
def notify_socket(tmp_path: Path):
    # AF_UNIX paths are limited to ~107 bytes: keep the socket in a short temporary folder
    import tempfile

    with tempfile.TemporaryDirectory(prefix="nfy") as folder:
        path = Path(folder) / "notify"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.setblocking(False)
        try:
            yield NotifyListener(path, sock)
        finally:
            sock.close()
