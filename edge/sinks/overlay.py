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
ROW_HEIGHT = 13  # one probability row at scale 1
MIN_ROW_HEIGHT = 8  # rows stay readable on small frames
PANEL_GAP = 4  # between the face box and its panel, at scale 1
NAME_CHARS = 8  # label names are cut to this length in the panel
CAPTION_TEXT_SIZE = 0.5  # cv2 font scale of captions and the FPS, at scale 1
PANEL_TEXT_SIZE = 0.35  # cv2 font scale of the panel's label names, at scale 1
MIN_SCALE = 0.5  # small frames still get legible text
BOX_THICKNESS = 2  # face box line width at scale 1
CAPTION_MIN_Y = 16  # a caption above a box at the top edge stays inside the image, at scale 1
FPS_ORIGIN = (6, 22)  # FPS text position at scale 1
FALLBACK_COLOURS = [(255, 0, 255), (255, 255, 0), (0, 255, 0), (128, 0, 255)]


def label_colour(label: str) -> tuple[int, int, int]:
    if label in LABEL_COLOURS:
        return LABEL_COLOURS[label]
    return FALLBACK_COLOURS[sum(map(ord, label)) % len(FALLBACK_COLOURS)]


def hex_colour(bgr: tuple[int, int, int]) -> str:
    """An OpenCV BGR colour as '#rrggbb' (web pages, matplotlib)."""
    blue, green, red = bgr
    return f"#{red:02x}{green:02x}{blue:02x}"


def default_scale(image: np.ndarray) -> float:
    return max(MIN_SCALE, image.shape[0] / REFERENCE_HEIGHT)


def bar_panel_rect(face: FaceResult, image_shape: tuple[int, ...], scale: float) -> tuple[int, int, int, int]:
    """(x, y, width, row_height) of the probability panel: right of the box, else left, else inside."""
    height, width = image_shape[:2]
    panel_w, row_h = int(PANEL_WIDTH * scale), max(MIN_ROW_HEIGHT, int(ROW_HEIGHT * scale))
    rows = len(face.smoothed.labels)
    gap = int(PANEL_GAP * scale)
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
    size = CAPTION_TEXT_SIZE * scale
    thickness = max(1, int(round(scale)))
    (tw, th), base = cv2.getTextSize(text, FONT, size, thickness)
    x, y = origin
    x = max(0, min(x, image.shape[1] - tw - 3))  # a caption of a face at the right edge moves left, never cut off
    cv2.rectangle(image, (x, y - th - base), (x + tw + 2, y + base // 2), bg, -1)
    cv2.putText(image, text, (x + 1, y - base // 2), FONT, size, fg, thickness, cv2.LINE_AA)


def draw_face(image: np.ndarray, face: FaceResult, scale: float) -> None:
    colour = label_colour(face.label)
    b = face.box
    cv2.rectangle(image, (b.x1, b.y1), (b.x2 - 1, b.y2 - 1), colour, max(1, int(round(BOX_THICKNESS * scale))))
    caption = f"#{face.track_id} {face.label} {face.confidence:.0%}"
    _draw_text(image, caption, (b.x1, max(int(CAPTION_MIN_Y * scale), b.y1 - 2)), scale, TEXT_DARK, colour)
    x, y, panel_w, row_h = bar_panel_rect(face, image.shape, scale)
    name_w = int(NAME_WIDTH * scale)
    text_size = PANEL_TEXT_SIZE * scale
    for row, (name, prob) in enumerate(zip(face.smoothed.labels, face.smoothed.probs)):
        top = y + row * row_h
        bar_x, bar_w = x + name_w, panel_w - name_w
        cv2.rectangle(image, (x, top), (x + panel_w - 1, top + row_h - 2), BAR_BACKGROUND, -1)
        filled = int(round(bar_w * float(np.clip(prob, 0.0, 1.0))))
        if filled > 0:
            cv2.rectangle(image, (bar_x, top + 1), (bar_x + filled - 1, top + row_h - 3), label_colour(name), -1)
        cv2.putText(image, name[:NAME_CHARS], (x + 2, top + row_h - 4), FONT, text_size, TEXT_LIGHT, 1, cv2.LINE_AA)


def draw_overlay(image: np.ndarray, result: FrameResult, scale: float | None = None) -> np.ndarray:
    """Return a copy of `image` annotated with every face of `result` and the FPS."""
    canvas = image.copy()
    scale = default_scale(canvas) if scale is None else scale
    for face in result.faces:
        draw_face(canvas, face, scale)
    if result.fps > 0:
        _draw_text(canvas, f"{result.fps:.1f} FPS", (int(FPS_ORIGIN[0] * scale), int(FPS_ORIGIN[1] * scale)), scale, TEXT_LIGHT, TEXT_DARK)
    return canvas
