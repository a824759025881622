"""The desktop path on a real X server (Xvfb): a full-screen, undecorated window covering the screen, with the
overlay where the faces are (checked on a screenshot), and headless fallback when the X server dies."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from edge.display import DisplayConfig, build_display_sink
from edge.errors import EdgeError
from edge.types import Box
from tests.display.conftest import SCREEN, make_result, wait_for
from tests.display.overlay_check import assert_overlay

SHOW_TIMEOUT_S = 60
HAPPY, SURPRISE, ANGRY = 3, 5, 0
GREY = 90


def shows(xvfb, pixel_y: int, pixel_x: int, colour) -> bool:
    return bool((xvfb.screenshot()[pixel_y, pixel_x] == np.array(colour, np.uint8)).all())


def test_fullscreen_overlay_covers_the_screen(on_xvfb):
    result = make_result([(Box(60, 120, 200, 300), HAPPY), (Box(380, 140, 500, 300), SURPRISE)], grey=GREY, fps=9.0)
    sink = build_display_sink(DisplayConfig(mode="fullscreen"))
    try:
        # centre of the screen = inside the letterboxed picture: grey once the window is up and painted
        wait_for(lambda: sink.frames_shown >= 2 and shows(on_xvfb, SCREEN[1] // 2, SCREEN[0] // 2, (GREY,) * 3),
                 SHOW_TIMEOUT_S, "the full-screen picture", step=lambda: sink.write(result))
        screen = on_xvfb.screenshot()
        cursor = on_xvfb.cursor_pixels()  # the pointer starts in the middle of the screen, over the picture
    finally:
        sink.close()
    assert cursor.size and not (cursor >> 24).any(), "the cursor is visible over the display"
    assert (on_xvfb.cursor_pixels() >> 24).any()  # with the display closed, the X server's own cursor is back
    assert sink.size == SCREEN and "fullscreen 1280x720" in sink.describe()
    assert screen.shape[:2] == (SCREEN[1], SCREEN[0])
    # 640x480 -> 960x720 in the middle: black bars left and right, to the very edges (no decorations, no frame)
    assert_overlay(screen, result, GREY)
    assert (screen[SCREEN[1] - 1, :150] == 0).all() and (screen[0, SCREEN[0] - 150:] == 0).all()
    assert (screen[:, 161:1119][SCREEN[1] - 1] == GREY).all()  # bottom row of the picture reaches the screen edge


def test_overlay_text_scales_with_the_screen(on_xvfb):
    result = make_result([(Box(200, 150, 360, 330), ANGRY)], grey=GREY)
    sink = build_display_sink(DisplayConfig(mode="fullscreen", overlay_scale=3.0))
    try:
        wait_for(lambda: sink.frames_shown >= 2 and shows(on_xvfb, SCREEN[1] // 2, 200, (GREY,) * 3),
                 SHOW_TIMEOUT_S, "the picture", step=lambda: sink.write(result))
        big = on_xvfb.screenshot()
    finally:
        sink.close()
    angry = np.array((40, 40, 230), np.uint8)
    bar_rows = (big == angry).all(axis=2).any(axis=1)
    # box edges and an angry bar twice the default (1.5) size: the bar is about 26 px high (13 px per row x 2)
    assert bar_rows.sum() > 200


def test_x_server_killed_mid_run_goes_headless(on_xvfb, caplog):
    caplog.set_level(logging.INFO, logger="edge.display.sink")
    result = make_result([(Box(100, 150, 260, 330), HAPPY)], grey=GREY)
    sink = build_display_sink(DisplayConfig(mode="fullscreen", retry_s=0.5))
    try:
        wait_for(lambda: sink.frames_shown >= 2, SHOW_TIMEOUT_S, "frames on screen", step=lambda: sink.write(result))
        on_xvfb.kill()
        wait_for(lambda: sink.lost_reason is not None, SHOW_TIMEOUT_S, "the loss to be noticed",
                 step=lambda: sink.write(result))
        for _ in range(30):  # headless from now on, retries fail quietly
            sink.write(result)
            wait_for(lambda: True, 0, "")
    finally:
        sink.close()
    lost = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lost) == 1 and lost[0].startswith("display lost (display process ended (exit code 1; X server"), lost
    assert lost[0].endswith("continuing headless (retrying every 0.5 s)")
    assert "headless since" in sink.describe()


def test_window_modes_need_an_x_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-1")
    with pytest.raises(EdgeError) as info:
        build_display_sink(DisplayConfig(mode="fullscreen"))
    assert info.value.one_line().startswith("error: display.mode fullscreen: no X11 display ($DISPLAY unset) (Wayland")


def test_window_mode_shows_frames_in_a_normal_window(on_xvfb):
    result = make_result([(Box(100, 150, 260, 330), HAPPY)], grey=GREY)
    sink = build_display_sink(DisplayConfig(mode="window"))
    try:
        wait_for(lambda: sink.frames_shown >= 3, SHOW_TIMEOUT_S, "frames in the window", step=lambda: sink.write(result))
    finally:
        sink.close()
    assert sink.size is None and sink.lost_reason is None  # frames at their own size, nothing lost
    assert sink.describe().startswith("display: window (")
