"""Full screen on X11 (or XWayland) through libX11 itself, with ctypes: one undecorated window covering the screen,
a blank cursor over it, frames sent with XPutImage.

Why not an OpenCV (Qt) full-screen window: under load, Qt's window stayed unpainted (black) in roughly one start
in ten (Xvfb, with and without a window manager), it cannot hide the cursor, and it ends the process when the X
connection breaks. Xlib also ends the process on a broken connection (its default I/O error handler), which is
fine here: this runs in the display worker process and the pipeline carries on headless.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

import numpy as np

log = logging.getLogger(__name__)

WINDOW_NAME = b"emotion-edge display"
# X11 protocol constants (X.h)
INPUT_OUTPUT = 1
ZPIXMAP = 2
LSB_FIRST = 0
CW_BACK_PIXEL = 1 << 1
CW_OVERRIDE_REDIRECT = 1 << 9
CW_CURSOR = 1 << 14
SUPPORTED_DEPTHS = (24, 32)
BITS_PER_PIXEL = 32  # ZPixmap of a depth-24 TrueColor visual: B, G, R, pad in memory (LSBFirst)
BITMAP_PAD = 32


class X11Unavailable(Exception):
    """No X server to talk to, or one whose pixel format this does not write."""


class XSetWindowAttributes(ctypes.Structure):
    _fields_ = [("background_pixmap", ctypes.c_ulong), ("background_pixel", ctypes.c_ulong),
                ("border_pixmap", ctypes.c_ulong), ("border_pixel", ctypes.c_ulong), ("bit_gravity", ctypes.c_int),
                ("win_gravity", ctypes.c_int), ("backing_store", ctypes.c_int), ("backing_planes", ctypes.c_ulong),
                ("backing_pixel", ctypes.c_ulong), ("save_under", ctypes.c_int), ("event_mask", ctypes.c_long),
                ("do_not_propagate_mask", ctypes.c_long), ("override_redirect", ctypes.c_int),
                ("colormap", ctypes.c_ulong), ("cursor", ctypes.c_ulong)]


class XColor(ctypes.Structure):
    _fields_ = [("pixel", ctypes.c_ulong), ("red", ctypes.c_ushort), ("green", ctypes.c_ushort),
                ("blue", ctypes.c_ushort), ("flags", ctypes.c_char), ("pad", ctypes.c_char)]


def _libx11() -> ctypes.CDLL:
    name = ctypes.util.find_library("X11")
    if name is None:
        raise X11Unavailable("libX11 not found (apt install libx11-6)")
    x = ctypes.CDLL(name)
    p, ul, u, i = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_uint, ctypes.c_int
    signatures = {
        "XOpenDisplay": (p, [ctypes.c_char_p]), "XCloseDisplay": (i, [p]), "XDefaultScreen": (i, [p]),
        "XDisplayWidth": (i, [p, i]), "XDisplayHeight": (i, [p, i]), "XDefaultDepth": (i, [p, i]),
        "XDefaultVisual": (p, [p, i]), "XRootWindow": (ul, [p, i]), "XBlackPixel": (ul, [p, i]),
        "XImageByteOrder": (i, [p]),
        "XCreateWindow": (ul, [p, ul, i, i, u, u, u, i, u, p, ul, ctypes.POINTER(XSetWindowAttributes)]),
        "XCreateBitmapFromData": (ul, [p, ul, ctypes.c_char_p, u, u]),
        "XCreatePixmapCursor": (ul, [p, ul, ul, ctypes.POINTER(XColor), ctypes.POINTER(XColor), u, u]),
        "XFreePixmap": (i, [p, ul]), "XStoreName": (i, [p, ul, ctypes.c_char_p]), "XMapRaised": (i, [p, ul]),
        "XCreateGC": (p, [p, ul, ul, p]), "XFreeGC": (i, [p, p]), "XDestroyWindow": (i, [p, ul]),
        "XCreateImage": (p, [p, p, u, i, i, p, u, u, i, i]),
        "XPutImage": (i, [p, ul, p, p, i, i, i, i, u, u]), "XSync": (i, [p, i]), "XFree": (i, [p]),
    }
    for name, (restype, argtypes) in signatures.items():
        func = getattr(x, name)
        func.restype, func.argtypes = restype, argtypes
    return x


def screen_size() -> tuple[int, int]:
    """Size of the default screen of $DISPLAY; X11Unavailable if there is none."""
    x = _libx11()
    display = _open(x)
    try:
        screen = x.XDefaultScreen(display)
        return int(x.XDisplayWidth(display, screen)), int(x.XDisplayHeight(display, screen))
    finally:
        x.XCloseDisplay(display)


class X11Window:
    """An override-redirect window over the whole screen: no decorations, above the desktop, no cursor."""

    def __init__(self) -> None:
        self.x = _libx11()
        self.display = None
        self.window = 0
        self.gc = None
        self.image = None
        self.size = (0, 0)
        self._pixels: np.ndarray | None = None

    def open(self) -> tuple[int, int]:
        x = self.x
        self.display = display = _open(x)
        screen = x.XDefaultScreen(display)
        width, height = x.XDisplayWidth(display, screen), x.XDisplayHeight(display, screen)
        depth = x.XDefaultDepth(display, screen)
        if depth not in SUPPORTED_DEPTHS or x.XImageByteOrder(display) != LSB_FIRST:
            self.close()
            raise X11Unavailable(f"X screen of depth {depth} (byte order {x.XImageByteOrder(display)}) not supported; "
                                 "24-bit TrueColor expected")
        root = x.XRootWindow(display, screen)
        empty = x.XCreateBitmapFromData(display, root, b"\x00", 1, 1)
        black = XColor()
        attributes = XSetWindowAttributes(background_pixel=x.XBlackPixel(display, screen), override_redirect=1,
                                          cursor=x.XCreatePixmapCursor(display, empty, empty, ctypes.byref(black),
                                                                       ctypes.byref(black), 0, 0))
        x.XFreePixmap(display, empty)
        visual = x.XDefaultVisual(display, screen)
        self.window = x.XCreateWindow(display, root, 0, 0, width, height, 0, depth, INPUT_OUTPUT, visual,
                                      CW_BACK_PIXEL | CW_OVERRIDE_REDIRECT | CW_CURSOR, ctypes.byref(attributes))
        x.XStoreName(display, self.window, WINDOW_NAME)
        self.gc = x.XCreateGC(display, self.window, 0, None)
        # the X image's own memory, as (H, W, 4) B, G, R, pad: frames are written into it in place
        self._pixels = np.zeros((height, width, BITS_PER_PIXEL // 8), np.uint8)
        self.image = x.XCreateImage(display, visual, depth, ZPIXMAP, 0, self._pixels.ctypes.data, width, height,
                                    BITMAP_PAD, width * BITS_PER_PIXEL // 8)
        x.XMapRaised(display, self.window)
        x.XSync(display, 0)
        self.size = (width, height)
        log.debug("X11 window 0x%x %dx%d depth %d on %s", self.window, width, height, depth, os.environ.get("DISPLAY"))
        return self.size

    def show(self, image_bgr: np.ndarray) -> None:
        """Put one screen-sized BGR image and wait until the server has it (one copy, into the X image)."""
        self._pixels[..., :3] = image_bgr
        self.x.XPutImage(self.display, self.window, self.gc, self.image, 0, 0, 0, 0, *self.size)
        self.x.XSync(self.display, 0)

    def close(self) -> None:
        x, display = self.x, self.display
        if display is None:
            return
        if self.image is not None:
            x.XFree(self.image)  # the XImage struct only: its pixels belong to numpy
            self.image = None
        if self.gc is not None:
            x.XFreeGC(display, self.gc)
            self.gc = None
        if self.window:
            x.XDestroyWindow(display, self.window)
            self.window = 0
        x.XCloseDisplay(display)
        self.display = None


def _open(x: ctypes.CDLL):
    name = os.environ.get("DISPLAY")
    if not name:
        raise X11Unavailable("no X11 display ($DISPLAY unset; under Wayland the window needs XWayland)")
    display = x.XOpenDisplay(None)
    if not display:
        raise X11Unavailable(f"cannot connect to X server {name}")
    return display
