"""Screens the display worker draws on (drop-in implementations of Screen, like picamera2's previews):
a desktop window (normal or full screen, OpenCV/Qt over X11 or XWayland) and the Linux framebuffer.

Every failure to show a picture raises DisplayLost with a short reason; the worker reports it and exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

import numpy as np

from edge.display.config import DisplayConfig
from edge.display.framebuffer import Framebuffer, FramebufferError, read_geometry

WINDOW_TITLE = "emotion-edge display"
WAIT_KEY_MS = 1
SETTLE_MS = 50  # event processing while the window is created and sized


class DisplayLost(Exception):
    """The screen cannot (or can no longer) show pictures: the reason, one line."""


class Screen:
    """`open()` returns the screen size (width, height), or None to use each frame's own size."""

    name = "screen"

    def open(self) -> tuple[int, int] | None:
        raise NotImplementedError

    def show(self, image_bgr: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        return None


def x11_screen_size() -> tuple[int, int]:
    """Size of the default X11 screen of $DISPLAY (via libX11, which every X client has); DisplayLost if none."""
    if not os.environ.get("DISPLAY"):
        raise DisplayLost("no X11 display ($DISPLAY unset; under Wayland the window needs XWayland)")
    name = ctypes.util.find_library("X11")
    if name is None:
        raise DisplayLost("libX11 not found")
    x11 = ctypes.CDLL(name)
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultScreen.argtypes = [ctypes.c_void_p]
    x11.XDisplayWidth.argtypes = x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = x11.XOpenDisplay(None)
    if not handle:
        raise DisplayLost(f"cannot connect to X server {os.environ['DISPLAY']}")
    try:
        screen = x11.XDefaultScreen(handle)
        return int(x11.XDisplayWidth(handle, screen)), int(x11.XDisplayHeight(handle, screen))
    finally:
        x11.XCloseDisplay(handle)


class WindowScreen(Screen):
    """An OpenCV (Qt) window; full screen: no decorations, covering the whole X11 screen.

    Qt ends the process when the X connection breaks; that is why this runs in the worker process.
    """

    def __init__(self, cfg: DisplayConfig, fullscreen: bool) -> None:
        self.cfg, self.fullscreen = cfg, fullscreen
        self.name = "fullscreen" if fullscreen else "window"
        self._open = False

    def open(self) -> tuple[int, int] | None:
        import cv2

        size = x11_screen_size()  # also proves the X server is there before Qt (which aborts if not) connects
        if self.cfg.width and self.cfg.height:
            size = (self.cfg.width, self.cfg.height)
        elif not self.fullscreen:
            size = None  # a normal window shows frames at their own size
        try:
            cv2.namedWindow(WINDOW_TITLE, cv2.WINDOW_NORMAL | cv2.WINDOW_FREERATIO | cv2.WINDOW_GUI_NORMAL)
            self._open = True
            if size is not None:
                # a first (black) picture before any resizing: Qt may otherwise keep painting an empty window
                cv2.imshow(WINDOW_TITLE, np.zeros((size[1], size[0], 3), np.uint8))
                cv2.waitKey(SETTLE_MS)
                cv2.resizeWindow(WINDOW_TITLE, *size)
            if self.fullscreen:
                cv2.moveWindow(WINDOW_TITLE, 0, 0)  # without a window manager, position and size are ours to set
                cv2.setWindowProperty(WINDOW_TITLE, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
            cv2.waitKey(SETTLE_MS)
        except cv2.error as exc:
            raise DisplayLost(f"cannot open a window: {str(exc).strip().splitlines()[-1]}") from None
        return size

    def show(self, image_bgr: np.ndarray) -> None:
        import cv2

        try:
            cv2.imshow(WINDOW_TITLE, image_bgr)
            cv2.waitKey(WAIT_KEY_MS)
            visible = cv2.getWindowProperty(WINDOW_TITLE, cv2.WND_PROP_VISIBLE)
        except cv2.error as exc:
            raise DisplayLost(f"window error: {str(exc).strip().splitlines()[-1]}") from None
        if visible < 1:
            raise DisplayLost("window closed")

    def close(self) -> None:
        if self._open:
            import cv2

            try:
                cv2.destroyWindow(WINDOW_TITLE)
                cv2.waitKey(WAIT_KEY_MS)
            except cv2.error:
                pass
            self._open = False


class FramebufferScreen(Screen):
    """Full screen on the Linux framebuffer (/dev/fb0), no window system needed."""

    name = "framebuffer"

    def __init__(self, cfg: DisplayConfig) -> None:
        self.cfg = cfg
        self.framebuffer: Framebuffer | None = None

    def open(self) -> tuple[int, int]:
        cfg = self.cfg
        try:
            geometry = read_geometry(cfg.sysfs_dir(), cfg.width, cfg.height, cfg.bits_per_pixel, cfg.stride)
        except FramebufferError as exc:
            raise DisplayLost(f"framebuffer {cfg.device}: {exc}") from None
        framebuffer = Framebuffer(Path(cfg.device), geometry)
        try:
            framebuffer.check()
        except OSError as exc:
            raise DisplayLost(f"framebuffer {cfg.device}: {exc.strerror or exc}") from None
        self.framebuffer = framebuffer
        return geometry.width, geometry.height

    def show(self, image_bgr: np.ndarray) -> None:
        assert self.framebuffer is not None, "open() first"
        try:
            self.framebuffer.write(image_bgr)
        except OSError as exc:
            raise DisplayLost(f"framebuffer {self.cfg.device} write failed: {exc.strerror or exc}") from None


def make_screen(cfg: DisplayConfig) -> Screen:
    if cfg.mode == "framebuffer":
        return FramebufferScreen(cfg)
    if cfg.mode in ("window", "fullscreen"):
        return WindowScreen(cfg, fullscreen=cfg.mode == "fullscreen")
    raise ValueError(f"display mode {cfg.mode!r} has no screen")
