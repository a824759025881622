"""Linux framebuffer output (no window system): geometry from sysfs, BGR -> RGB565 / BGR888 / XRGB8888 with
numpy, one pwrite per frame.

The device is opened for every frame, so a framebuffer that goes away (display driver unloaded, USB/SPI screen
unplugged, node removed) shows up as an OSError on the next frame instead of writes into a stale descriptor.
A regular file of the right size works as a framebuffer (tests, screenshots).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SUPPORTED_BPP = (16, 24, 32)
OPAQUE = 255


class FramebufferError(Exception):
    """The framebuffer's geometry is unknown or unusable (a configuration problem, not a lost display)."""


@dataclass(frozen=True)
class FramebufferGeometry:
    width: int
    height: int
    bits_per_pixel: int
    stride: int  # bytes per row, >= width * bytes per pixel

    @property
    def bytes_per_pixel(self) -> int:
        return self.bits_per_pixel // 8

    @property
    def size(self) -> int:
        return self.stride * self.height

    def describe(self) -> str:
        return f"{self.width}x{self.height} {self.bits_per_pixel} bpp stride {self.stride}"


def _read_sysfs(folder: Path, name: str) -> str | None:
    try:
        return (folder / name).read_text().strip()
    except OSError:
        return None


def read_geometry(sysfs: Path, width: int | None = None, height: int | None = None,
                  bits_per_pixel: int | None = None, stride: int | None = None) -> FramebufferGeometry:
    """Geometry from `sysfs` (virtual_size "W,H", bits_per_pixel, stride); given values take precedence."""
    size = _read_sysfs(sysfs, "virtual_size")
    if size and (width is None or height is None):
        try:
            sys_w, sys_h = (int(v) for v in size.split(","))
        except ValueError:
            raise FramebufferError(f"{sysfs / 'virtual_size'}: expected 'WIDTH,HEIGHT', not {size!r}") from None
        width, height = width or sys_w, height or sys_h
    if bits_per_pixel is None:
        text = _read_sysfs(sysfs, "bits_per_pixel")
        bits_per_pixel = int(text) if text and text.isdigit() else None
    if width is None or height is None or bits_per_pixel is None:
        raise FramebufferError(f"geometry unknown: no readable {sysfs}/{{virtual_size,bits_per_pixel}} "
                               "(set display.width, display.height and display.bits_per_pixel)")
    if bits_per_pixel not in SUPPORTED_BPP:
        raise FramebufferError(f"{bits_per_pixel} bits per pixel not supported (only {SUPPORTED_BPP})")
    if stride is None:
        text = _read_sysfs(sysfs, "stride")
        stride = int(text) if text and text.isdigit() else width * bits_per_pixel // 8
    if stride < width * bits_per_pixel // 8:
        raise FramebufferError(f"stride {stride} is less than {width} pixels x {bits_per_pixel // 8} bytes")
    return FramebufferGeometry(width, height, bits_per_pixel, stride)


def pack_pixels(image_bgr: np.ndarray, out: np.ndarray, bits_per_pixel: int) -> None:
    """Write (H, W, 3) BGR into `out`, an (H, W, bytes per pixel) uint8 array (or a view of the screen rows) in
    the framebuffer's little-endian memory layout, without an intermediate full-screen array for 24/32 bpp."""
    if bits_per_pixel == 16:  # RGB565: rrrrrggg gggbbbbb, stored low byte first
        b, g, r = (image_bgr[..., i].astype(np.uint16) for i in range(3))
        packed = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
        out[...] = packed.astype("<u2")[..., None].view(np.uint8)
    elif bits_per_pixel == 24:  # RGB888 little-endian: B, G, R in memory
        out[...] = image_bgr
    elif bits_per_pixel == 32:  # XRGB8888 little-endian: B, G, R, X in memory
        out[..., :3] = image_bgr
        out[..., 3] = OPAQUE
    else:
        raise FramebufferError(f"{bits_per_pixel} bits per pixel not supported (only {SUPPORTED_BPP})")


def to_pixels(image_bgr: np.ndarray, bits_per_pixel: int) -> np.ndarray:
    """(H, W, 3) BGR -> (H, W * bytes per pixel) uint8 in the framebuffer's little-endian memory layout."""
    height, width = image_bgr.shape[:2]
    out = np.empty((height, width, bits_per_pixel // 8), np.uint8)
    pack_pixels(image_bgr, out, bits_per_pixel)
    return out.reshape(height, -1)


def from_pixels(data: bytes, geometry: FramebufferGeometry) -> np.ndarray:
    """Read back a framebuffer image as (H, W, 3) BGR (for tests and screenshots; RGB565 loses low bits)."""
    g = geometry
    rows = np.frombuffer(data, np.uint8, count=g.size).reshape(g.height, g.stride)[:, :g.width * g.bytes_per_pixel]
    if g.bits_per_pixel == 16:
        packed = np.ascontiguousarray(rows).view("<u2").astype(np.uint16)
        r, gr, b = (packed >> 11) & 0x1F, (packed >> 5) & 0x3F, packed & 0x1F
        return np.stack([(b << 3) | (b >> 2), (gr << 2) | (gr >> 4), (r << 3) | (r >> 2)], axis=-1).astype(np.uint8)
    return rows.reshape(g.height, g.width, g.bytes_per_pixel)[..., :3].copy()


class Framebuffer:
    """Writes whole screen images (BGR, exactly width x height) to the device at `path`."""

    def __init__(self, path: Path, geometry: FramebufferGeometry) -> None:
        self.path, self.geometry = Path(path), geometry
        self._rows = np.zeros((geometry.height, geometry.stride), np.uint8)  # padding bytes stay 0
        visible = self._rows[:, :geometry.width * geometry.bytes_per_pixel]
        self._pixels = visible.reshape(geometry.height, geometry.width, geometry.bytes_per_pixel)  # a view

    def check(self) -> None:
        """Raise OSError now if the device cannot be opened for writing."""
        os.close(os.open(self.path, os.O_WRONLY))

    def write(self, image_bgr: np.ndarray) -> None:
        g = self.geometry
        if image_bgr.shape[:2] != (g.height, g.width):
            raise ValueError(f"image {image_bgr.shape[1]}x{image_bgr.shape[0]} is not the screen size {g.width}x{g.height}")
        pack_pixels(image_bgr, self._pixels, g.bits_per_pixel)  # straight into the padded rows
        fd = os.open(self.path, os.O_WRONLY)
        try:
            written = os.pwrite(fd, self._rows.data, 0)
        finally:
            os.close(fd)
        if written != g.size:
            raise OSError(f"short write ({written} of {g.size} bytes)")
