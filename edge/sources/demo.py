"""The built-in `demo` source: the synthetic astronaut clip of edge.demo, generated in memory."""

from __future__ import annotations

import time

from edge.demo import DEFAULT_SIZE, make_demo_frames
from edge.types import Frame


class DemoSource:
    name = "demo"

    def __init__(self, frames: int = 300, size: tuple[int, int] = DEFAULT_SIZE, faces: int = 1, loop: bool = False) -> None:
        self._clip = make_demo_frames(frames, size=size, faces=faces)
        self.loop = loop
        self._index = 0

    def read(self) -> Frame | None:
        if self._index >= len(self._clip) and not self.loop:
            return None
        frame = Frame(image=self._clip[self._index % len(self._clip)], timestamp=time.time(), index=self._index, source=self.name)
        self._index += 1
        return frame

    def close(self) -> None:
        return None
