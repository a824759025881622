"""Audit of edge/display/compose.py with positions worked out by hand (tests/display/overlay_check.py maps boxes
with Letterbox itself, so it cannot notice a wrong mapping): a wide frame on a taller screen gets bars above and
below, its faces land where the picture put them, and a configured overlay scale is the one drawn."""

from __future__ import annotations

import numpy as np

from edge.display.compose import Letterbox, compose
from edge.sinks.overlay import label_colour
from edge.types import Box
from tests.display.conftest import make_result

ANGRY = 0
GREY = 90
WIDE_FRAME = (640, 240)
SCREEN = (800, 480)  # the wide frame is scaled by 1.25 to 800x300, 90 rows of black above and below


def test_a_wide_frame_is_centred_vertically_and_its_boxes_follow():
    fit = Letterbox.fit(WIDE_FRAME, SCREEN)
    assert (fit.scale, fit.x, fit.y, fit.width, fit.height) == (1.25, 0, 90, 800, 300)
    assert fit.box(Box(100, 40, 200, 120)).as_list() == [125, 140, 250, 240]
    tall = Letterbox.fit((240, 320), (800, 480))  # a portrait frame: bars left and right
    assert (tall.scale, tall.x, tall.y) == (1.5, 220, 0)
    assert tall.box(Box(10, 20, 30, 40)).as_list() == [235, 30, 265, 60]


def test_the_screen_shows_the_picture_between_black_bars_with_the_box_on_the_face():
    result = make_result([(Box(100, 40, 200, 120), ANGRY)], size=WIDE_FRAME, grey=GREY)
    screen = compose(result, SCREEN)
    assert screen.shape == (SCREEN[1], SCREEN[0], 3)
    assert (screen[:90] == 0).all() and (screen[390:] == 0).all()
    assert (screen[90:390, 700:] == GREY).all()  # the picture's right part, clear of the face's overlay
    angry = np.array(label_colour("angry"), np.uint8)
    assert (screen[190, 125] == angry).all() and (screen[239, 190] == angry).all()  # left and bottom edges
    assert (screen[190, 190] == GREY).all()  # inside the box: the picture


def test_a_configured_overlay_scale_is_the_one_drawn():
    result = make_result([(Box(100, 100, 200, 200), ANGRY)], grey=GREY)
    angry = np.array(label_colour("angry"), np.uint8)

    def angry_pixels(scale: float | None) -> int:
        return int((compose(result, (1280, 720), scale) == angry).all(axis=2).sum())

    assert angry_pixels(3.0) > 2 * angry_pixels(None)  # 1280x720 alone would draw at 1.5
    assert angry_pixels(0.75) < angry_pixels(None)
