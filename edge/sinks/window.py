"""On-screen overlay window (cv2.imshow); q or Esc ends the run."""

from __future__ import annotations

import logging
import os

import cv2

from edge.sinks.base import BaseSink
from edge.sinks.overlay import draw_overlay
from edge.types import FrameResult

log = logging.getLogger(__name__)

QUIT_KEYS = (ord("q"), ord("Q"), 27)
WINDOW_TITLE = "edge - emotions"


def display_available() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class WindowSink(BaseSink):
    def __init__(self, title: str = WINDOW_TITLE) -> None:
        self.title = title
        self._stop = False
        self.failed = False

    def write(self, result: FrameResult) -> None:
        if self.failed:
            return
        try:
            cv2.imshow(self.title, draw_overlay(result.frame.image, result))
            key = cv2.waitKey(1) & 0xFF
            closed = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error as exc:
            self.failed = True
            log.warning("window unavailable (%s); continuing headless", str(exc).strip().splitlines()[-1])
            return
        if key in QUIT_KEYS or closed:
            log.info("window closed" if closed else "quit key pressed")
            self._stop = True

    def should_stop(self) -> bool:
        return self._stop

    def close(self) -> None:
        if not self.failed:
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass
