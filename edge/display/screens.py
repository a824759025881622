"""Screens the display worker draws on (drop-in implementations of Screen, like picamera2's previews):
full screen on X11/XWayland (libX11 directly, edge.display.x11), a normal desktop window (OpenCV/Qt), and the
Linux framebuffer (no window system).

Every failure to show a picture raises DisplayLost with a short reason; the worker reports it and exits.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from edge.display.config import DisplayConfig
from edge.display.framebuffer import Framebuffer, FramebufferError, read_geometry

WINDOW_TITLE = "emotion-edge display"
OVERLAY_WINDOW_TITLE = "edge - emotions"
INITIAL_MAX_SIZE = (1280, 720)  # width, height the overlay window first opens at, at most; the user may resize it
QUIT_KEYS = (ord("q"), ord("Q"), 27)
WAIT_KEY_MS = 1


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


class FullscreenScreen(Screen):
    """The whole X11 screen, undecorated, cursor hidden (Raspberry Pi OS desktop: X11, or Wayland via XWayland)."""

    name = "fullscreen"

    def __init__(self, cfg: DisplayConfig) -> None:
        self.cfg = cfg
        self.window = None

    def open(self) -> tuple[int, int]:
        from edge.display.x11 import X11Unavailable, X11Window

        try:
            window = X11Window()
            size = window.open()
        except X11Unavailable as exc:
            raise DisplayLost(str(exc)) from None
        self.window = window
        return size

    def show(self, image_bgr: np.ndarray) -> None:
        self.window.show(image_bgr)  # a broken X connection ends the worker (Xlib)

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None


class WindowScreen(Screen):
    """A normal, decorated OpenCV (Qt) window, sized to display.width x display.height, else first shown at the
    frames' size, at most INITIAL_MAX_SIZE (a 1080p camera frame at its own size would run off a laptop's or a Pi
    display's screen; Qt's own first size, 400x300 without a window manager, would shrink it)."""

    name = "window"
    title = WINDOW_TITLE
    # cv2 flags added to WINDOW_NORMAL (resizable), named: cv2 is imported in the worker only. WINDOW_GUI_NORMAL:
    # without Qt's toolbar and status bar, which would take their height from the picture and scale it down
    flags: tuple[str, ...] = ("WINDOW_GUI_NORMAL",)

    def __init__(self, cfg: DisplayConfig) -> None:
        self.cfg = cfg
        self._open = False
        self._sized = False

    def open(self) -> tuple[int, int] | None:
        import cv2

        from edge.display.x11 import X11Unavailable, screen_size

        try:
            screen_size()  # proves the X server is there before Qt (which aborts if it is not) connects
        except X11Unavailable as exc:
            raise DisplayLost(str(exc)) from None
        size = (self.cfg.width, self.cfg.height) if self.cfg.width and self.cfg.height else None
        try:
            cv2.namedWindow(self.title, self.window_flags(cv2))
            self._open = True
            if size is not None:
                cv2.resizeWindow(self.title, *size)
        except cv2.error as exc:
            raise DisplayLost(f"cannot open a window: {str(exc).strip().splitlines()[-1]}") from None
        self._sized = size is not None
        return size

    def window_flags(self, cv2: ModuleType) -> int:
        """The namedWindow flags: WINDOW_NORMAL with `flags`."""
        value = cv2.WINDOW_NORMAL
        for name in self.flags:
            value |= getattr(cv2, name)
        return value

    def show(self, image_bgr: np.ndarray) -> None:
        import cv2

        try:
            if not self._sized:
                height, width = image_bgr.shape[:2]
                scale = min(1.0, INITIAL_MAX_SIZE[0] / width, INITIAL_MAX_SIZE[1] / height)
                cv2.resizeWindow(self.title, max(1, round(width * scale)), max(1, round(height * scale)))
                self._sized = True
            cv2.imshow(self.title, image_bgr)
            key = cv2.waitKey(WAIT_KEY_MS) & 0xFF
            visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE)
        except cv2.error as exc:
            raise DisplayLost(f"window error: {str(exc).strip().splitlines()[-1]}") from None
        self.after_show(key, visible >= 1)

    def after_show(self, key: int, visible: bool) -> None:
        """A display's window closed is a lost display (retried); keys mean nothing to it."""
        if not visible:
            raise DisplayLost("window closed")

    def close(self) -> None:
        if self._open:
            import cv2

            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(WAIT_KEY_MS)
            except cv2.error:
                pass
            self._open = False


class ViewerClosed(Exception):
    """The person watching the overlay window ended it (a quit key, or the window closed): the reason, one line."""


class OverlayWindowScreen(WindowScreen):
    """The overlay window of `python -m edge --window` (edge.sinks.window.WindowSink): a frame that fits
    INITIAL_MAX_SIZE first shows pixel for pixel, with no toolbar or status bar; resizable with its aspect kept;
    q or Esc, or closing it, ends the run (ViewerClosed)."""

    title = OVERLAY_WINDOW_TITLE
    flags = ("WINDOW_GUI_NORMAL", "WINDOW_KEEPRATIO")

    def after_show(self, key: int, visible: bool) -> None:
        if not visible:
            raise ViewerClosed("window closed")
        if key in QUIT_KEYS:
            raise ViewerClosed("quit key pressed")


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


SCREENS = {"fullscreen": FullscreenScreen, "window": WindowScreen, "framebuffer": FramebufferScreen}


def make_screen(cfg: DisplayConfig, viewer: bool = False) -> Screen:
    """The screen of `cfg.mode`; `viewer`: the overlay window of a run (OverlayWindowScreen), not a display."""
    if viewer:
        return OverlayWindowScreen(cfg)
    if cfg.mode not in SCREENS:
        raise ValueError(f"display mode {cfg.mode!r} has no screen")
    return SCREENS[cfg.mode](cfg)
