"""Annotated output video (cv2.VideoWriter, mp4v); opened at the first frame to learn its size."""

from __future__ import annotations

import os
from pathlib import Path

import cv2

from edge.errors import EdgeError
from edge.sinks.base import BaseSink
from edge.sinks.overlay import draw_overlay
from edge.types import FrameResult

FOURCC = "mp4v"


class VideoSink(BaseSink):
    def __init__(self, path: Path, fps: float = 30.0) -> None:
        self.path, self.fps = Path(path), fps
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeError(f"output video {self.path}", f"cannot create folder ({exc.strerror})") from None
        if not os.access(self.path.parent, os.W_OK):
            raise EdgeError(f"output video {self.path}", "folder not writable")
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, result: FrameResult) -> None:
        image = draw_overlay(result.frame.image, result)
        if self._writer is None:
            height, width = image.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*FOURCC), self.fps, (width, height))
            if not self._writer.isOpened():
                raise EdgeError(f"output video {self.path}", "cannot open for writing")
        self._writer.write(image)
        self.frames += 1

    def describe(self) -> str:
        return f"video: {self.path.resolve()} ({self.frames} frames)"

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
