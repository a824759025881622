"""The no-window-system path: geometry from sysfs, pixel formats, the overlay written to a file-backed framebuffer,
and headless fallback when the framebuffer goes away."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from edge.display import DisplayConfig, build_display_sink
from edge.display.framebuffer import (FramebufferError, FramebufferGeometry, from_pixels, read_geometry,
                                      to_pixels)
from edge.errors import EdgeError
from edge.types import Box
from tests.display.conftest import make_framebuffer, make_result, wait_for
from tests.display.overlay_check import assert_overlay

SHOW_TIMEOUT_S = 60
HAPPY, SAD, ANGRY = 3, 4, 0
GREY = 90


def through(bits_per_pixel: int):
    """A colour as it reads back from a framebuffer of this depth (RGB565 keeps 5/6/5 bits)."""
    def convert(colour):
        pixel = np.array([[colour]], np.uint8)
        geometry = FramebufferGeometry(1, 1, bits_per_pixel, bits_per_pixel // 8)
        return from_pixels(to_pixels(pixel, bits_per_pixel).tobytes(), geometry)[0, 0]
    return convert


def test_geometry_from_sysfs_and_overrides(framebuffer):
    g = read_geometry(framebuffer.sysfs)
    assert (g.width, g.height, g.bits_per_pixel, g.stride) == (800, 480, 16, 800 * 2 + 64)
    assert read_geometry(framebuffer.sysfs, width=640, height=400).width == 640
    for given, size in [({"height": 400}, (800, 400)), ({"width": 640}, (640, 480))]:  # the other from sysfs
        one_given = read_geometry(framebuffer.sysfs, **given)
        assert (one_given.width, one_given.height) == size
    (framebuffer.sysfs / "stride").unlink()
    assert read_geometry(framebuffer.sysfs).stride == 1600  # default: packed rows


def test_geometry_errors(tmp_path):
    with pytest.raises(FramebufferError, match="geometry unknown"):
        read_geometry(tmp_path / "missing")
    assert read_geometry(tmp_path / "missing", 320, 240, 32).stride == 1280
    with pytest.raises(FramebufferError, match="stride 100 is less"):
        read_geometry(tmp_path, 320, 240, 16, stride=100)
    (tmp_path / "virtual_size").write_text("wide\n")
    with pytest.raises(FramebufferError, match="WIDTH,HEIGHT"):
        read_geometry(tmp_path)


@pytest.mark.parametrize("bits_per_pixel", [16, 24, 32])
def test_pixel_formats(bits_per_pixel):
    image = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    raw = to_pixels(image, bits_per_pixel)
    assert raw.shape == (4, 5 * bits_per_pixel // 8)
    back = from_pixels(raw.tobytes(), FramebufferGeometry(5, 4, bits_per_pixel, 5 * bits_per_pixel // 8))
    if bits_per_pixel == 16:
        assert np.abs(back.astype(int) - image).max() <= 7  # 5 bits red and blue, 6 bits green
        red = to_pixels(np.array([[[0, 0, 255]]], np.uint8), 16)  # pure red = 0xF800, low byte first
        assert red.tobytes() == b"\x00\xf8"
    else:
        assert np.array_equal(back, image)
    if bits_per_pixel == 32:  # XRGB8888: B, G, R, X in memory
        assert to_pixels(np.array([[[1, 2, 3]]], np.uint8), 32).tobytes() == b"\x01\x02\x03\xff"


@pytest.mark.parametrize("bits_per_pixel", [16, 32])
def test_overlay_on_a_file_backed_framebuffer(tmp_path, bits_per_pixel):
    fb = make_framebuffer(tmp_path, 800, 480, bits_per_pixel)
    result = make_result([(Box(60, 120, 200, 300), HAPPY), (Box(380, 140, 500, 300), SAD)], grey=GREY, fps=14.0)
    sink = build_display_sink(DisplayConfig(**fb.options()))
    try:
        wait_for(lambda: sink.frames_shown >= 1, SHOW_TIMEOUT_S, "the first frame on the framebuffer",
                 step=lambda: sink.write(result))
    finally:
        sink.close()
    assert sink.size == (800, 480) and "framebuffer 800x480" in sink.describe()
    screen = fb.read()
    assert_overlay(screen, result, GREY, through(bits_per_pixel))
    raw = np.frombuffer(fb.device.read_bytes(), np.uint8).reshape(fb.height, fb.stride)
    assert not raw[:, fb.width * bits_per_pixel // 8:].any()  # row padding untouched


def test_framebuffer_removed_mid_run_goes_headless_then_comes_back(framebuffer, caplog):
    caplog.set_level(logging.INFO, logger="edge.display.sink")
    result = make_result([(Box(100, 150, 260, 330), ANGRY)], grey=GREY)
    sink = build_display_sink(DisplayConfig(**framebuffer.options(), retry_s=0.2))
    try:
        wait_for(lambda: sink.frames_shown >= 2, SHOW_TIMEOUT_S, "frames on the framebuffer",
                 step=lambda: sink.write(result))
        size = framebuffer.device.stat().st_size
        framebuffer.device.unlink()  # the device node goes away (driver unloaded, screen unplugged)
        wait_for(lambda: sink.lost_reason is not None, SHOW_TIMEOUT_S, "the loss to be noticed",
                 step=lambda: sink.write(result))
        for _ in range(20):
            sink.write(result)  # headless: writes keep returning, nothing raised
        lost = [r.getMessage() for r in caplog.records if "display lost" in r.getMessage()]
        assert len(lost) == 1, lost  # one line, not one per frame or per retry
        assert "No such file or directory" in lost[0] and lost[0].endswith("continuing headless (retrying every 0.2 s)")
        assert not framebuffer.device.exists()  # never created by the sink

        framebuffer.device.write_bytes(bytes(size))  # plugged in again
        shown = sink.frames_shown
        wait_for(lambda: sink.frames_shown > shown, SHOW_TIMEOUT_S, "the display to come back",
                 step=lambda: sink.write(result))
        assert any("display back: framebuffer 800x480" in r.getMessage() for r in caplog.records)
    finally:
        sink.close()
    assert_overlay(framebuffer.read(), result, GREY, through(16))


def test_unusable_framebuffer_configuration_is_one_line_error(tmp_path):
    folder = tmp_path / "fbdir"
    folder.mkdir()
    with pytest.raises(EdgeError, match="is a folder"):
        build_display_sink(DisplayConfig(mode="framebuffer", device=folder))
    device = tmp_path / "fb0"
    device.write_bytes(b"")
    with pytest.raises(EdgeError, match="geometry unknown") as info:
        build_display_sink(DisplayConfig(mode="framebuffer", device=device, sysfs=tmp_path / "nosys"))
    assert "\n" not in info.value.one_line()


def test_missing_framebuffer_at_start_means_headless_not_failure(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="edge.display.sink")
    fb = make_framebuffer(tmp_path)
    fb.device.unlink()
    sink = build_display_sink(DisplayConfig(**fb.options(), retry_s=0))
    result = make_result([])
    try:
        wait_for(lambda: sink.lost_reason is not None, SHOW_TIMEOUT_S, "the start failure", step=lambda: sink.write(result))
    finally:
        sink.close()
    assert [r.getMessage() for r in caplog.records] == [
        f"display unavailable (framebuffer {fb.device}: No such file or directory); continuing headless"]


@pytest.mark.parametrize("bits_per_pixel", [16, 24, 32])
def test_successive_frames_land_in_padded_rows_and_padding_stays_zero(tmp_path, bits_per_pixel):
    from edge.display.framebuffer import Framebuffer

    width, height, padding = 7, 5, 12
    geometry = FramebufferGeometry(width, height, bits_per_pixel, width * bits_per_pixel // 8 + padding)
    device = tmp_path / "fb0"
    device.write_bytes(b"\xaa" * geometry.size)
    screen = Framebuffer(device, geometry)
    rng = np.random.default_rng(bits_per_pixel)
    for _ in range(2):  # the second frame must replace the first everywhere
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        screen.write(image)
        data = device.read_bytes()
        assert np.abs(from_pixels(data, geometry).astype(int) - image).max() <= (7 if bits_per_pixel == 16 else 0)
        rows = np.frombuffer(data, np.uint8).reshape(height, geometry.stride)
        assert not rows[:, width * bits_per_pixel // 8:].any()
