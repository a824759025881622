"""Cheap box following between detections (detector.every > 1): template matching on a small grayscale frame."""

from __future__ import annotations

import cv2
import numpy as np

from edge.types import Box, boxes_in_frame

FOLLOW_WIDTH = 160  # frames are matched at this width
SEARCH_GROWTH = 0.5  # search window = box grown by this fraction per side
MIN_MATCH_SCORE = 0.5  # below this the box is held where it was
MIN_TEMPLATE_PX = 6


class BoxFollower:
    """Remembers the previous frame; `follow(image, boxes)` shifts each box to where its content moved."""

    def __init__(self, width: int = FOLLOW_WIDTH) -> None:
        self.width = width
        self._prev: np.ndarray | None = None
        self._prev_shape: tuple[int, ...] | None = None  # of the full frame (two sizes may shrink to one)
        self._scale = 1.0

    def _small(self, image_bgr: np.ndarray) -> np.ndarray:
        self._scale = min(1.0, self.width / image_bgr.shape[1])
        gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        return cv2.resize(gray, None, fx=self._scale, fy=self._scale, interpolation=cv2.INTER_AREA)

    def remember(self, image_bgr: np.ndarray) -> None:
        self._prev, self._prev_shape = self._small(image_bgr), image_bgr.shape

    def follow(self, image_bgr: np.ndarray, boxes: list[Box]) -> list[Box]:
        """`boxes` moved with the image, clipped to it, empty ones dropped. Without a remembered frame of the same
        size the boxes stay where they were (still clipped): the caller should detect instead (edge.pipeline does)."""
        current = self._small(image_bgr)
        previous, self._prev = self._prev, current
        same_size, self._prev_shape = self._prev_shape == image_bgr.shape, image_bgr.shape
        boxes = boxes_in_frame(boxes, image_bgr.shape)
        if same_size:  # then `previous` is that frame
            boxes = boxes_in_frame([self._shift(previous, current, box, image_bgr.shape) for box in boxes],
                                   image_bgr.shape)
        return boxes

    def _shift(self, previous: np.ndarray, current: np.ndarray, box: Box, shape: tuple[int, ...]) -> Box:
        s = self._scale
        x1, y1, x2, y2 = (int(round(v * s)) for v in box.as_list())
        if x2 - x1 < MIN_TEMPLATE_PX or y2 - y1 < MIN_TEMPLATE_PX:
            return box
        template = previous[y1:y2, x1:x2]
        gx, gy = int((x2 - x1) * SEARCH_GROWTH), int((y2 - y1) * SEARCH_GROWTH)
        sx1, sy1 = max(0, x1 - gx), max(0, y1 - gy)
        sx2, sy2 = min(current.shape[1], x2 + gx), min(current.shape[0], y2 + gy)
        window = current[sy1:sy2, sx1:sx2]
        if window.shape[0] < template.shape[0] or window.shape[1] < template.shape[1]:
            return box
        scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (mx, my) = cv2.minMaxLoc(scores)
        if best < MIN_MATCH_SCORE:
            return box
        dx, dy = (sx1 + mx - x1) / s, (sy1 + my - y1) / s
        height, width = shape[:2]
        dx = min(max(dx, -box.x1), width - box.x2)
        dy = min(max(dy, -box.y1), height - box.y2)
        return Box(int(box.x1 + dx), int(box.y1 + dy), int(box.x2 + dx), int(box.y2 + dy), box.score)
