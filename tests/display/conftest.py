"""Fixtures for the display tests: a real Xvfb server, root-window screenshots, a file-backed framebuffer,
synthetic frame results, and the emotion model for `python -m edge` runs (shared with the service tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.service.conftest import REPO, service_model  # noqa: F401 - the model fixture, reused

from edge.types import Box, FaceResult, Frame, FrameResult, Prediction

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SCREEN = (1280, 720)
X_SOCKETS = Path("/tmp/.X11-unix")
FIRST_DISPLAY = 90
XVFB_START_TIMEOUT_S = 15
POLL_S = 0.05


@dataclass
class Xvfb:
    number: int
    process: subprocess.Popen

    @property
    def display(self) -> str:
        return f":{self.number}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """End the server (SIGTERM: it removes its socket and lock file; SIGKILL if it does not go)."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(timeout=10)

    def screenshot(self) -> np.ndarray:
        """The whole root window as (H, W, 3) BGR, read over the X protocol (python-xlib)."""
        from Xlib import X, display

        conn = display.Display(self.display)
        try:
            root = conn.screen().root
            geometry = root.get_geometry()
            raw = root.get_image(0, 0, geometry.width, geometry.height, X.ZPixmap, 0xFFFFFFFF)
            # depth 24 ZPixmap on a little-endian server: B, G, R, pad per pixel
            pixels = np.frombuffer(raw.data, np.uint8).reshape(geometry.height, geometry.width, 4)
            return pixels[..., :3].copy()
        finally:
            conn.close()

    def cursor_pixels(self) -> np.ndarray:
        """The ARGB pixels of the pointer's current cursor (XFixes); all-zero alpha = an invisible cursor."""
        from Xlib import display

        conn = display.Display(self.display)
        try:
            conn.xfixes_query_version()
            image = conn.xfixes_get_cursor_image(conn.screen().root)
            return np.array(image.cursor_image, np.uint32)
        finally:
            conn.close()


def _free_display() -> int:
    for number in range(FIRST_DISPLAY, FIRST_DISPLAY + 100):
        if not (X_SOCKETS / f"X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb():
    """A private Xvfb :N (1280x720x24), killed in teardown; $DISPLAY is not changed for the test process."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb not installed (apt install xvfb; scripts/test.sh installs it)")
    pytest.importorskip("Xlib", reason="python-xlib missing (requirements-test.txt)")
    number = _free_display()
    process = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten",
                                "tcp", "-noreset"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Xvfb(number, process)
    deadline = time.monotonic() + XVFB_START_TIMEOUT_S
    while not (X_SOCKETS / f"X{number}").exists():
        if not server.alive() or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"Xvfb :{number} did not start")
        time.sleep(POLL_S)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def on_xvfb(xvfb, monkeypatch):
    """The test process (and the display worker it spawns) uses the private Xvfb."""
    monkeypatch.setenv("DISPLAY", xvfb.display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return xvfb


@dataclass
class FakeFramebuffer:
    """A regular file sized like a framebuffer plus a sysfs-style folder describing it."""

    device: Path
    sysfs: Path
    width: int
    height: int
    bits_per_pixel: int
    stride: int

    def options(self) -> dict:
        return {"mode": "framebuffer", "device": str(self.device), "sysfs": str(self.sysfs)}

    def read(self) -> np.ndarray:
        from edge.display.framebuffer import FramebufferGeometry, from_pixels

        geometry = FramebufferGeometry(self.width, self.height, self.bits_per_pixel, self.stride)
        return from_pixels(self.device.read_bytes(), geometry)


def make_framebuffer(folder: Path, width: int = 800, height: int = 480, bits_per_pixel: int = 16,
                     padding: int = 64) -> FakeFramebuffer:
    stride = width * bits_per_pixel // 8 + padding
    sysfs = folder / "sys" / "fb0"
    sysfs.mkdir(parents=True)
    (sysfs / "virtual_size").write_text(f"{width},{height}\n")
    (sysfs / "bits_per_pixel").write_text(f"{bits_per_pixel}\n")
    (sysfs / "stride").write_text(f"{stride}\n")
    device = folder / "fb0"
    device.write_bytes(bytes(stride * height))
    return FakeFramebuffer(device, sysfs, width, height, bits_per_pixel, stride)


@pytest.fixture
def framebuffer(tmp_path: Path) -> FakeFramebuffer:
    return make_framebuffer(tmp_path)


def make_result(faces: list[tuple[Box, int]], size: tuple[int, int] = (640, 480), fps: float = 0.0,
                grey: int = 90) -> FrameResult:
    """A frame of uniform grey with the given (box, top label index) faces at 80 % confidence."""
    image = np.full((size[1], size[0], 3), grey, np.uint8)
    out = []
    for track_id, (box, top) in enumerate(faces, start=1):
        probs = np.full(len(LABELS), 0.2 / (len(LABELS) - 1), np.float32)
        probs[top] = 0.8
        p = Prediction(LABELS, probs)
        out.append(FaceResult(box=box, track_id=track_id, raw=p, smoothed=p, label=p.label))
    return FrameResult(frame=Frame(image=image, timestamp=time.time(), index=0, source="test"), faces=out, fps=fps)


def wait_for(predicate, timeout: float, what: str, step=None) -> None:
    """Poll `predicate` (calling `step` in between, e.g. feeding a sink) until true or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if step is not None:
            step()
        time.sleep(POLL_S)


def edge_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "edge", *args]


def edge_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "NOTIFY_SOCKET", "WATCHDOG_USEC", "STATE_DIRECTORY")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env
