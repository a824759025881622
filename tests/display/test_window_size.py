"""The overlay window on a real (virtual) X display: a camera frame larger than the screen opens scaled down.

The window runs in a child process: Qt, once started in a process, aborts it when a later test points $DISPLAY
at a display it cannot reach."""

from __future__ import annotations

import json
import subprocess
import sys

from edge.sinks.window import INITIAL_MAX_SIZE
from tests.service.conftest import REPO

FULL_HD = (1920, 1080)
SHOW_FULL_HD = f"""
import json, cv2, numpy as np
from edge.sinks.window import WindowSink
from edge.types import Frame, FrameResult
sink = WindowSink(title="size-test")
sink.write(FrameResult(Frame(np.full(({FULL_HD[1]}, {FULL_HD[0]}, 3), 80, np.uint8), 0.0, 0, "test")))
for _ in range(20):
    cv2.waitKey(10)
print(json.dumps({{"failed": sink.failed, "rect": list(cv2.getWindowImageRect("size-test"))}}))
sink.close()
"""


def test_a_full_hd_frame_opens_a_window_that_fits(on_xvfb):
    done = subprocess.run([sys.executable, "-c", SHOW_FULL_HD], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    _, _, width, height = shown["rect"]
    assert not shown["failed"]
    assert 0 < width <= INITIAL_MAX_SIZE[0] and 0 < height <= INITIAL_MAX_SIZE[1]
    assert abs(width / height - FULL_HD[0] / FULL_HD[1]) < 0.05  # aspect kept
