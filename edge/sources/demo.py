"""The built-in `demo` source: the synthetic astronaut clip of edge.demo, generated in memory.

A bounded demo is a video file: it runs as fast as the machine can, and its frames are stamped with the clip's own
time (edge.timebase.ClipClock), so every machine logs the same events for it (one line per face per second of
clip). A looping demo is someone's live view (the overlay window, the web view): it plays in real time like a
camera, waiting for each frame's moment and, on a machine slower than the clip, skipping to the frame due now."""

from __future__ import annotations

import threading

from edge.config import SourceConfig
from edge.demo import DEFAULT_SIZE, make_demo_frames
from edge.timebase import ClipClock
from edge.types import Frame

DEMO_FPS = SourceConfig.model_fields["fps"].default  # the clip's frame rate unless source.fps says otherwise


class DemoSource:
    name = "demo"

    def __init__(self, frames: int = 300, size: tuple[int, int] = DEFAULT_SIZE, faces: int = 1, loop: bool = False,
                 fps: float = DEMO_FPS, cancel: threading.Event | None = None) -> None:
        """`cancel`: the run's stop event; a looping demo's wait for its next frame ends when it is set."""
        self._clip = make_demo_frames(frames, size=size, faces=faces)
        self.loop, self.fps, self._cancel = loop, fps, cancel
        self._clock: ClipClock | None = None  # started by the first read, not by the clip's generation
        self._index = 0  # frames delivered
        self._position = 0  # where in the clip (counting loops) the next frame comes from

    @property
    def real_time(self) -> bool:
        """Played in real time (looping), so an annotated video places its frames by their stamps."""
        return self.loop

    def read(self) -> Frame | None:
        if self._index >= len(self._clip) and not self.loop:
            return None
        if self._clock is None:
            self._clock = ClipClock(self.fps)
        if self.loop:  # real time: wait for the next frame, or skip to the one due now
            self._position = max(self._position, self._clock.position_now())
            self._clock.wait_for(self._position, self._cancel)
            if self._cancel is not None and self._cancel.is_set():
                return None
        image = self._clip[self._position % len(self._clip)]
        frame = Frame(image=image, timestamp=self._clock.stamp(self._position), index=self._index, source=self.name)
        self._index += 1
        self._position += 1
        return frame

    def close(self) -> None:
        return None
