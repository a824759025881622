"""The benchmark's frame source: the demo clip (edge.demo), JPEG-encoded once, decoded on every read.

A USB webcam (MJPEG) or a video file costs a decode per frame; rendering the synthetic clip does not
represent that, so the clip is encoded up front and `read` times only the decode to BGR.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from edge.demo import PERIOD_FRAMES, make_demo_frames
from edge.types import Frame

JPEG_QUALITY = 90  # typical of webcam MJPEG
NAME = "bench"


class JpegClipSource:
    """Endless: frame i is clip frame i mod PERIOD_FRAMES (the clip's motion repeats with that period)."""

    name = NAME

    def __init__(self, size: tuple[int, int], faces: int, seed: int) -> None:
        clip = make_demo_frames(PERIOD_FRAMES, size=size, faces=faces, seed=seed)
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        self._encoded: list[np.ndarray] = [cv2.imencode(".jpg", image, params)[1] for image in clip]
        self._index = 0
        self.last_decode_ms = 0.0

    @property
    def encoded_bytes(self) -> int:
        return sum(int(buf.nbytes) for buf in self._encoded)

    def read(self) -> Frame | None:
        start = time.perf_counter()
        image = cv2.imdecode(self._encoded[self._index % len(self._encoded)], cv2.IMREAD_COLOR)
        self.last_decode_ms = (time.perf_counter() - start) * 1e3
        frame = Frame(image=image, timestamp=time.time(), index=self._index, source=self.name)
        self._index += 1
        return frame

    def close(self) -> None:
        self._encoded = []
