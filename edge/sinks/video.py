"""Annotated output video (cv2.VideoWriter, mp4v); checked at construction, opened at the first frame to learn its size.

A video has one frame size: later frames of another size (a camera reopened at another resolution, a folder of
mixed images) are letterboxed into the first size, since the writer silently drops frames that do not match.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError, checked
from edge.sinks.base import BaseSink
from edge.sinks.overlay import draw_overlay
from edge.types import FrameResult

log = logging.getLogger(__name__)

FOURCC = "mp4v"
CONTAINERS = (".mp4", ".m4v", ".mov", ".avi", ".mkv")  # file suffixes OpenCV's FFmpeg writer takes mp4v in
PROBE_SIZE = (64, 48)  # the throw-away writer that checks, before the run, that the file can be written
LETTERBOX_COLOUR = (0, 0, 0)


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` scaled to fit (width, height) with its aspect ratio kept, centred on black bars."""
    width, height = size
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    canvas = np.full((height, width, 3), LETTERBOX_COLOUR, np.uint8)
    x, y = (width - new_w) // 2, (height - new_h) // 2
    canvas[y:y + new_h, x:x + new_w] = resized
    return canvas


def check_output(path: Path) -> None:
    """EdgeError unless a video can be written at `path`: a known container, a folder that exists (made here) and
    takes files, and an mp4v writer OpenCV opens there (a probe file, removed again)."""
    thing = f"output video {path}"
    if path.suffix.lower() not in CONTAINERS:
        shown = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise EdgeError(thing, f"unsupported container ({shown}); use one of {', '.join(CONTAINERS)}")
    if checked(thing, path.is_dir):
        raise EdgeError(thing, "is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeError(thing, f"cannot create folder ({exc.strerror})") from None
    if not os.access(path.parent, os.W_OK):
        raise EdgeError(thing, "folder not writable")
    probe = path.with_name(f".{path.stem}.probe-{os.getpid()}{path.suffix}")
    writer = cv2.VideoWriter(str(probe), cv2.VideoWriter_fourcc(*FOURCC), 1.0, PROBE_SIZE)
    try:
        if not writer.isOpened():
            raise EdgeError(thing, f"OpenCV cannot write {FOURCC} {path.suffix} files here")
    finally:
        writer.release()
        probe.unlink(missing_ok=True)


class VideoSink(BaseSink):
    def __init__(self, path: Path, fps: float = 30.0) -> None:
        self.path, self.fps = Path(path), fps
        check_output(self.path)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None  # (width, height) of the first frame
        self.frames = 0
        self.resized = 0  # frames letterboxed into the first frame's size

    def write(self, result: FrameResult) -> None:
        image = draw_overlay(result.frame.image, result)
        height, width = image.shape[:2]
        if self._writer is None:
            self._size = (width, height)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*FOURCC), self.fps, self._size)
            if not self._writer.isOpened():
                raise EdgeError(f"output video {self.path}", "cannot open for writing")
        elif (width, height) != self._size:
            if self.resized == 0:
                log.warning("output video %s: frame size changed from %dx%d to %dx%d; letterboxing into the first size",
                            self.path, *self._size, width, height)
            image = letterbox(image, self._size)
            self.resized += 1
        self._writer.write(image)
        self.frames += 1

    def describe(self) -> str:
        resized = f", {self.resized} letterboxed to {self._size[0]}x{self._size[1]}" if self.resized else ""
        return f"video: {self.path.resolve()} ({self.frames} frames{resized})"

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
