"""Deterministic synthetic clip: the astronaut's real face moving and scaling over a background.

Frames are generated on demand from the frame index (a 300-frame clip would need ~280 MB if
materialised), so `make_demo_frames` returns a lazy, list-like `DemoClip`.
Needs scikit-image (its bundled astronaut.png), used only when a clip is built.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.types import Box

DEFAULT_SIZE = (640, 480)
FACE_CROP_ROWS = (10, 230)  # astronaut() is 512x512 RGB; this window holds the face with hair and chin
FACE_CROP_COLS = (130, 330)
FACE_HEIGHT_FRACTION = (0.42, 0.62)  # face-crop height as a fraction of frame height (min, max)
PERIOD_FRAMES = 120  # one full cycle of the motion path
ASTRONAUT_FILE = "astronaut.png"
# Background: a BGR gradient (blue grows left to right, green top to bottom, red towards the bottom left)
GRADIENT_BASE = (90, 110, 70)  # B, G, R at the top-left corner
GRADIENT_SPAN = (60, 50, 40)  # added at the far side of each channel's direction
CLUTTER_SHAPES = 12  # random discs and rectangles (non-face clutter for the detector)
CLUTTER_COLOUR_RANGE = (40, 220)  # per channel, end exclusive
CLUTTER_RADIUS_RANGE = (10, 50)  # disc radius in pixels, end exclusive
CLUTTER_SIDE_RANGE = (20, 90)  # rectangle side in pixels, end exclusive
CLUTTER_CIRCLE_SHARE = 0.5  # chance that a shape is a disc
BACKGROUND_BLUR = (5, 5)  # Gaussian kernel that softens the clutter's edges
LANE_FILL = 0.9  # a face crop is at most this fraction of its lane's width (each face has a lane of width/faces)
MIN_FACE_HEIGHT_SHARE = 0.7  # in narrow lanes the smallest face is this fraction of the largest
MIN_LANE_PX = 32  # narrower lanes would give faces too small to render or detect
MIN_HEIGHT_PX = 64


def astronaut_bgr() -> np.ndarray:
    """skimage.data.astronaut() as BGR; read straight from the package file (importing skimage.data costs ~0.3 s)."""
    spec = importlib.util.find_spec("skimage")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / ASTRONAUT_FILE
        image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
        if image is not None:
            return image
    try:
        from skimage import data
    except ImportError:
        raise EdgeError("demo source", "needs scikit-image (pip install scikit-image)") from None
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def _face_crop_bgr() -> np.ndarray:
    image = astronaut_bgr()
    return np.ascontiguousarray(image[FACE_CROP_ROWS[0]:FACE_CROP_ROWS[1], FACE_CROP_COLS[0]:FACE_CROP_COLS[1]])


def _background(size: tuple[int, int], seed: int) -> np.ndarray:
    width, height = size
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    (blue, green, red), (blue_span, green_span, red_span) = GRADIENT_BASE, GRADIENT_SPAN
    base = np.stack([blue + blue_span * x + 0 * y, green + green_span * y + 0 * x, red + red_span * (1 - x) * y],
                    axis=-1)
    image = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(CLUTTER_SHAPES):  # some non-face clutter
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        colour = tuple(int(c) for c in rng.integers(*CLUTTER_COLOUR_RANGE, size=3))
        if rng.random() < CLUTTER_CIRCLE_SHARE:
            cv2.circle(image, (cx, cy), int(rng.integers(*CLUTTER_RADIUS_RANGE)), colour, -1)
        else:
            corner = (cx + int(rng.integers(*CLUTTER_SIDE_RANGE)), cy + int(rng.integers(*CLUTTER_SIDE_RANGE)))
            cv2.rectangle(image, (cx, cy), corner, colour, -1)
    return cv2.GaussianBlur(image, BACKGROUND_BLUR, 0)


class DemoClip(Sequence[np.ndarray]):
    """A lazy clip of `n` BGR frames; `clip[i]` renders frame i, `clip.boxes(i)` gives the true face boxes."""

    def __init__(self, n: int, size: tuple[int, int] = DEFAULT_SIZE, faces: int = 1, seed: int = 0) -> None:
        if n < 1 or faces < 1:
            raise ValueError("a demo clip needs at least one frame and one face")
        width, height = int(size[0]), int(size[1])
        if width < MIN_LANE_PX * faces or height < MIN_HEIGHT_PX:
            raise EdgeError("source demo", f"{width}x{height} frames are too small for {faces} face(s): "
                                           f"source.width must be at least {MIN_LANE_PX * faces}, "
                                           f"source.height at least {MIN_HEIGHT_PX}")
        self.n, self.size, self.faces, self.seed = n, (int(size[0]), int(size[1])), faces, seed
        self._face = _face_crop_bgr()
        self._background = _background(self.size, seed)
        phase_rng = np.random.default_rng(seed + 1)
        self._phases = phase_rng.uniform(0, 2 * math.pi, size=(faces, 3))

    def __len__(self) -> int:
        return self.n

    def boxes(self, index: int) -> list[Box]:
        """Where each pasted face crop lies in frame `index` (the crop, slightly larger than the face)."""
        width, height = self.size
        lane = width / self.faces
        out = []
        for k in range(self.faces):
            px, py, ps = self._phases[k]
            t = 2 * math.pi * (index % PERIOD_FRAMES) / PERIOD_FRAMES
            lo, hi = FACE_HEIGHT_FRACTION  # narrow lanes (several faces, or a narrow frame) cap the face width
            hi = min(hi, LANE_FILL * lane / height * self._face.shape[0] / self._face.shape[1])
            lo = min(lo, hi * MIN_FACE_HEIGHT_SHARE)
            fh = int(height * (lo + (hi - lo) * 0.5 * (1 + math.sin(t + ps))))
            fw = int(fh * self._face.shape[1] / self._face.shape[0])
            free_x = max(0.0, lane - fw)
            free_y = max(0.0, height - fh)
            x1 = int(k * lane + free_x * 0.5 * (1 + math.sin(t + px)))
            y1 = int(free_y * 0.5 * (1 + math.sin(2 * t + py)))
            out.append(Box(x1, y1, x1 + fw, y1 + fh))
        return out

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        if not -self.n <= index < self.n:
            raise IndexError(index)
        index %= self.n
        image = self._background.copy()
        for box in self.boxes(index):
            image[box.y1:box.y2, box.x1:box.x2] = cv2.resize(self._face, (box.width, box.height), interpolation=cv2.INTER_AREA)
        return image

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(self.n))


def make_demo_frames(n: int, size: tuple[int, int] = DEFAULT_SIZE, faces: int = 1, seed: int = 0) -> DemoClip:
    """The demo clip used by the `demo` source, the benchmark and the tests."""
    return DemoClip(n, size=size, faces=faces, seed=seed)
