"""Pure drawing of a FrameResult onto an image: boxes, labels, per-emotion bars, FPS.

Reused by the window and video sinks (and later the web view / full-screen display).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.types import FaceResult, FrameResult

REFERENCE_HEIGHT = 480  # text and bar sizes are designed for this frame height
FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_DARK = (20, 20, 20)
TEXT_LIGHT = (255, 255, 255)
BAR_BACKGROUND = (60, 60, 60)
LABEL_COLOURS = {  # BGR
    "angry": (40, 40, 230),
    "disgust": (40, 150, 40),
    "fear": (170, 60, 150),
    "happy": (0, 210, 255),
    "sad": (200, 110, 30),
    "surprise": (0, 140, 255),
    "neutral": (190, 190, 190),
}
PANEL_WIDTH = 120  # probability panel width at scale 1
NAME_WIDTH = 62  # part of the panel holding the label names
FALLBACK_COLOURS = [(255, 0, 255), (255, 255, 0), (0, 255, 0), (128, 0, 255)]


def label_colour(label: str) -> tuple[int, int, int]:
    if label in LABEL_COLOURS:
        return LABEL_COLOURS[label]
    return FALLBACK_COLOURS[sum(map(ord, label)) % len(FALLBACK_COLOURS)]


def default_scale(image: np.ndarray) -> float:
    return max(0.5, image.shape[0] / REFERENCE_HEIGHT)


def bar_panel_rect(face: FaceResult, image_shape: tuple[int, ...], scale: float) -> tuple[int, int, int, int]:
    """(x, y, width, row_height) of the probability panel: right of the box, else left, else inside."""
    height, width = image_shape[:2]
    panel_w, row_h = int(PANEL_WIDTH * scale), max(8, int(13 * scale))
    rows = len(face.smoothed.labels)
    gap = int(4 * scale)
    box = face.box
    if box.x2 + gap + panel_w <= width:
        x = box.x2 + gap
    elif box.x1 - gap - panel_w >= 0:
        x = box.x1 - gap - panel_w
    else:
        x = max(0, min(width - panel_w, box.x1))
    y = max(0, min(height - rows * row_h, box.y1))
    return x, y, panel_w, row_h


def _draw_text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float, fg, bg) -> None:
    size = 0.5 * scale
    thickness = max(1, int(round(scale)))
    (tw, th), base = cv2.getTextSize(text, FONT, size, thickness)
    x, y = origin
    cv2.rectangle(image, (x, y - th - base), (x + tw + 2, y + base // 2), bg, -1)
    cv2.putText(image, text, (x + 1, y - base // 2), FONT, size, fg, thickness, cv2.LINE_AA)


def draw_face(image: np.ndarray, face: FaceResult, scale: float) -> None:
    colour = label_colour(face.label)
    b = face.box
    cv2.rectangle(image, (b.x1, b.y1), (b.x2 - 1, b.y2 - 1), colour, max(1, int(round(2 * scale))))
    caption = f"#{face.track_id} {face.label} {face.confidence:.0%}"
    _draw_text(image, caption, (b.x1, max(int(16 * scale), b.y1 - 2)), scale, TEXT_DARK, colour)
    x, y, panel_w, row_h = bar_panel_rect(face, image.shape, scale)
    name_w = int(NAME_WIDTH * scale)
    text_size = 0.35 * scale
    for row, (name, prob) in enumerate(zip(face.smoothed.labels, face.smoothed.probs)):
        top = y + row * row_h
        bar_x, bar_w = x + name_w, panel_w - name_w
        cv2.rectangle(image, (x, top), (x + panel_w - 1, top + row_h - 2), BAR_BACKGROUND, -1)
        filled = int(round(bar_w * float(np.clip(prob, 0.0, 1.0))))
        if filled > 0:
            cv2.rectangle(image, (bar_x, top + 1), (bar_x + filled - 1, top + row_h - 3), label_colour(name), -1)
        cv2.putText(image, name[:8], (x + 2, top + row_h - 4), FONT, text_size, TEXT_LIGHT, 1, cv2.LINE_AA)


def draw_overlay(image: np.ndarray, result: FrameResult, scale: float | None = None) -> np.ndarray:
    """Return a copy of `image` annotated with every face of `result` and the FPS."""
    canvas = image.copy()
    scale = default_scale(canvas) if scale is None else scale
    for face in result.faces:
        draw_face(canvas, face, scale)
    if result.fps > 0:
        _draw_text(canvas, f"{result.fps:.1f} FPS", (int(6 * scale), int(22 * scale)), scale, TEXT_LIGHT, TEXT_DARK)
    return canvas
