"""Pixel checks of a screen showing the overlay: letterbox bars, each face's box and probability bars where the
face is, in the colours of edge.sinks.overlay (optionally passed through the framebuffer's pixel format)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from edge.display.compose import Letterbox, overlay_scale
from edge.sinks.overlay import NAME_WIDTH, bar_panel_rect, label_colour
from edge.types import FrameResult

BAR_TOLERANCE_PX = 2

Colour = tuple[int, int, int]


def exact(colour: Colour) -> np.ndarray:
    return np.array(colour, np.uint8)


def assert_overlay(screen: np.ndarray, result: FrameResult, grey: int,
                   as_shown: Callable[[Colour], np.ndarray] = exact) -> None:
    height, width = screen.shape[:2]
    frame = result.frame.image
    fit = Letterbox.fit((frame.shape[1], frame.shape[0]), (width, height))
    scale = overlay_scale(height)
    black, background = as_shown((0, 0, 0)), as_shown((grey, grey, grey))
    if fit.x > 0:  # side bars (the frame is narrower than the screen)
        assert (screen[height // 2, :fit.x - 1] == black).all(), "left letterbox bar is not black"
        assert (screen[height // 2, fit.x + fit.width + 1:] == black).all(), "right letterbox bar is not black"
    for face in result.faces:
        box = fit.box(face.box)
        colour = as_shown(label_colour(face.label))
        mid_x, mid_y = (box.x1 + box.x2) // 2, (box.y1 + box.y2) // 2
        where = f"face #{face.track_id} ({face.label}) at screen {box.as_list()}"
        assert (screen[mid_y, box.x1] == colour).all(), f"{where}: no left edge"
        assert (screen[mid_y, box.x2 - 1] == colour).all(), f"{where}: no right edge"
        assert (screen[box.y2 - 1, mid_x] == colour).all(), f"{where}: no bottom edge"
        assert (screen[mid_y, mid_x] == background).all(), f"{where}: inside of the box is not the picture"
        x, y, panel_w, row_h = bar_panel_rect(replace(face, box=box), screen.shape, scale)
        name_w = int(NAME_WIDTH * scale)
        bar_w = panel_w - name_w
        for row, (name, prob) in enumerate(zip(face.smoothed.labels, face.smoothed.probs)):
            line = screen[y + row * row_h + row_h // 2, x + name_w:x + panel_w]
            filled = int((line == as_shown(label_colour(name))).all(axis=1).sum())
            expected = round(bar_w * float(prob))
            assert abs(filled - expected) <= BAR_TOLERANCE_PX, f"{where}: {name} bar {filled} px, expected {expected}"
