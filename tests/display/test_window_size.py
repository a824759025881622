"""The overlay window on a real (virtual) X display: a camera frame larger than the screen opens scaled down, and
q, Esc or closing the window ends the run.

The window is drawn in a child process, as the run's worker does: Qt, once started in a process, aborts it when a
later test points $DISPLAY at a display it cannot reach."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from edge.display.config import DisplayConfig
from edge.display.screens import INITIAL_MAX_SIZE, QUIT_KEYS, OverlayWindowScreen, ViewerClosed
from tests.service.conftest import REPO

FULL_HD = (1920, 1080)
SHOW_FULL_HD = f"""
import json, cv2, numpy as np
from edge.display.config import DisplayConfig
from edge.display.screens import OVERLAY_WINDOW_TITLE, OverlayWindowScreen
screen = OverlayWindowScreen(DisplayConfig(mode="window"))
screen.open()
screen.show(np.full(({FULL_HD[1]}, {FULL_HD[0]}, 3), 80, np.uint8))
for _ in range(20):
    cv2.waitKey(10)
print(json.dumps({{"rect": list(cv2.getWindowImageRect(OVERLAY_WINDOW_TITLE))}}))
screen.close()
"""


def test_a_full_hd_frame_opens_a_window_that_fits(on_xvfb):
    done = subprocess.run([sys.executable, "-c", SHOW_FULL_HD], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    _, _, width, height = shown["rect"]
    assert 0 < width <= INITIAL_MAX_SIZE[0] and 0 < height <= INITIAL_MAX_SIZE[1]
    assert abs(width / height - FULL_HD[0] / FULL_HD[1]) < 0.05  # aspect kept


@pytest.mark.parametrize("key, visible, reason", [
    (QUIT_KEYS[0], 1.0, "quit key pressed"), (27, 1.0, "quit key pressed"), (-1, 0.0, "window closed")],
    ids=["q", "esc", "closed"])
def test_a_quit_key_or_a_closed_window_ends_the_viewing(monkeypatch, key, visible, reason):
    """Keys cannot be typed into Xvfb without extra tools: OpenCV's calls are replaced here, the screen's logic is
    real (the worker turns ViewerClosed into the run's stop)."""
    import cv2

    import edge.display.x11

    monkeypatch.setattr(edge.display.x11, "screen_size", lambda: (1280, 720))
    for name, stand_in in {"namedWindow": lambda title, flags=0: None, "resizeWindow": lambda *args: None,
                           "imshow": lambda title, image: None, "waitKey": lambda delay: key,
                           "getWindowProperty": lambda title, prop: visible}.items():
        monkeypatch.setattr(cv2, name, stand_in)
    screen = OverlayWindowScreen(DisplayConfig(mode="window"))
    screen.open()
    with pytest.raises(ViewerClosed, match=reason):
        screen.show(np.zeros((48, 64, 3), np.uint8))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: ord("x"))
    monkeypatch.setattr(cv2, "getWindowProperty", lambda title, prop: 1.0)
    screen.show(np.zeros((48, 64, 3), np.uint8))  # another key: goes on


SHOW_VGA_ON_A_DISPLAY_WINDOW = """
import json, cv2, numpy as np
from edge.display.config import DisplayConfig
from edge.display.screens import WINDOW_TITLE, WindowScreen
screen = WindowScreen(DisplayConfig(mode="window"))
screen.open()
screen.show(np.full((480, 640, 3), 80, np.uint8))
for _ in range(20):
    cv2.waitKey(10)
print(json.dumps({"rect": list(cv2.getWindowImageRect(WINDOW_TITLE))}))
screen.close()
"""


def test_the_display_window_opens_at_the_frame_size_when_none_is_configured(on_xvfb):
    """Before, Qt's own first size (400x300 without a window manager) shrank a 640x480 picture into it."""
    done = subprocess.run([sys.executable, "-c", SHOW_VGA_ON_A_DISPLAY_WINDOW], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    _, _, width, height = json.loads(done.stdout.strip().splitlines()[-1])["rect"]
    assert (width, height) == (640, 480)
