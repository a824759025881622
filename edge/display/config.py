"""The `display:` config section (pydantic, extra keys forbidden): the on-screen overlay of an emotion display.

Kept free of OpenCV and numpy so edge.config can import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.config_model import Strict

DisplayMode = Literal["none", "window", "fullscreen", "framebuffer"]
DEFAULT_FRAMEBUFFER = Path("/dev/fb0")
SYSFS_GRAPHICS = Path("/sys/class/graphics")


class DisplayConfig(Strict):
    mode: DisplayMode = Field("none", description="none | window | fullscreen (desktop session) | "
                                                  "framebuffer (no window system, e.g. Raspberry Pi OS Lite)")
    device: Path = Field(DEFAULT_FRAMEBUFFER, description="framebuffer device (mode framebuffer)")
    sysfs: Path | None = Field(None, description="framebuffer sysfs folder with virtual_size, bits_per_pixel, stride "
                                                 "(default /sys/class/graphics/<device name>)")
    width: int | None = Field(None, gt=0, description="screen width in pixels (default: from X11 or the framebuffer)")
    height: int | None = Field(None, gt=0, description="screen height in pixels (default: from X11 or the framebuffer)")
    bits_per_pixel: Literal[16, 24, 32] | None = Field(None, description="framebuffer depth (default: from sysfs)")
    stride: int | None = Field(None, gt=0, description="framebuffer bytes per row (default: from sysfs)")
    overlay_scale: float | None = Field(None, gt=0, description="text and bar size (default: screen height / 480)")
    retry_s: float = Field(10.0, ge=0, description="after the display is lost, try it again this often (0 = never)")

    def sysfs_dir(self) -> Path:
        return self.sysfs if self.sysfs is not None else SYSFS_GRAPHICS / self.device.name
