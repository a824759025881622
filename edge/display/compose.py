"""Screen composition: the camera frame letterboxed to the screen, the overlay drawn at screen resolution.

The overlay is the shared drawing function (edge.sinks.overlay.draw_overlay) with the face boxes mapped into
screen pixels and a scale that grows with the screen, so labels and bars stay readable from a few metres.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from edge.sinks.overlay import MIN_SCALE, REFERENCE_HEIGHT, draw_overlay
from edge.types import Box, FrameResult

LETTERBOX_COLOUR = (0, 0, 0)


@dataclass(frozen=True)
class Letterbox:
    """Where a frame lands on the screen: uniform `scale`, then shifted by (`x`, `y`)."""

    scale: float
    x: int
    y: int
    width: int  # of the scaled frame
    height: int

    @classmethod
    def fit(cls, frame_size: tuple[int, int], screen_size: tuple[int, int]) -> Letterbox:
        (fw, fh), (sw, sh) = frame_size, screen_size
        scale = min(sw / fw, sh / fh)
        width, height = max(1, round(fw * scale)), max(1, round(fh * scale))
        return cls(scale, (sw - width) // 2, (sh - height) // 2, width, height)

    def box(self, box: Box) -> Box:
        def at(value: int, offset: int) -> int:
            return offset + round(value * self.scale)

        return replace(box, x1=at(box.x1, self.x), y1=at(box.y1, self.y), x2=at(box.x2, self.x),
                       y2=at(box.y2, self.y))


def overlay_scale(screen_height: int, configured: float | None = None) -> float:
    """The configured scale, else one that grows with the screen, never below MIN_SCALE (as the --video and the
    window of a small camera frame draw it: text stays legible)."""
    return configured if configured is not None else max(MIN_SCALE, screen_height / REFERENCE_HEIGHT)


def compose(result: FrameResult, screen_size: tuple[int, int] | None = None,
            scale: float | None = None) -> np.ndarray:
    """The screen image (BGR, `screen_size` = (width, height); None = the frame's own size)."""
    image = result.frame.image
    frame_size = (image.shape[1], image.shape[0])
    screen_size = screen_size or frame_size
    fit = Letterbox.fit(frame_size, screen_size)
    canvas = np.empty((screen_size[1], screen_size[0], 3), np.uint8)
    canvas[:] = LETTERBOX_COLOUR
    interpolation = cv2.INTER_AREA if fit.scale < 1 else cv2.INTER_LINEAR
    scaled = image if fit.scale == 1 else cv2.resize(image, (fit.width, fit.height), interpolation=interpolation)
    canvas[fit.y:fit.y + fit.height, fit.x:fit.x + fit.width] = scaled
    faces = [replace(face, box=fit.box(face.box)) for face in result.faces]
    mapped = replace(result, frame=replace(result.frame, image=canvas), faces=faces)
    return draw_overlay(canvas, mapped, overlay_scale(screen_size[1], scale))
