"""Still images: one file, or a folder of files in name order."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError, access_error, checked
from edge.native_stderr import native_stderr_logged
from edge.sources import check_readable, quiet_opencv
from edge.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
NOT_AN_IMAGE = "unreadable or not an image"
# A file that begins as one of these but does not decode was cut short or damaged (a copy that stopped, a camera's
# card pulled mid-write): saying so beats "not an image" for a file that plainly is one.
DAMAGEABLE_FORMATS = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG", "PNG"))
# The size checks cv2.imread makes before decoding (it raises cv2.error naming the one that failed): what the
# limit counts, the environment variable that sets it, and OpenCV's default.
OPENCV_SIZE_LIMITS = {
    "CV_IO_MAX_IMAGE_PIXELS": ("pixels", "OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30),
    "CV_IO_MAX_IMAGE_WIDTH": ("px wide", "OPENCV_IO_MAX_IMAGE_WIDTH", 1 << 20),
    "CV_IO_MAX_IMAGE_HEIGHT": ("px high", "OPENCV_IO_MAX_IMAGE_HEIGHT", 1 << 20),
}


def opencv_read_problem(exc: cv2.error) -> str:
    """The problem of an image cv2.imread raised on: `too large (...)` for one over OpenCV's size limits (a
    header claiming 60000x60000: OpenCV refuses before allocating), else OpenCV's own words."""
    failed = str(getattr(exc, "err", "") or exc)
    for check, (unit, variable, default) in OPENCV_SIZE_LIMITS.items():
        if check in failed:
            limit = os.environ.get(variable) or str(default)
            return f"too large (over OpenCV's limit of {limit} {unit}, set by {variable})"
    return f"{NOT_AN_IMAGE} (OpenCV: {' '.join(failed.split())})"


def not_decoded_problem(data: np.ndarray) -> str:
    """Why bytes that OpenCV could not decode are no image: `truncated or corrupt JPEG data` (or PNG) when they
    begin as one, else unreadable or not an image."""
    head = data[:8].tobytes()
    kind = next((name for magic, name in DAMAGEABLE_FORMATS if head.startswith(magic)), None)
    return f"truncated or corrupt {kind} data" if kind else NOT_AN_IMAGE


def load_image(path: Path) -> np.ndarray:
    """The BGR image of a file, or EdgeError `image <path>: <problem>`: cannot access (Permission denied), too
    large, truncated or corrupt, unreadable or not an image. Decoded from its bytes as the web view's uploads are:
    cv2.imread hands back a cut-short JPEG grey-filled, so a photo whose lower half is missing was classified (or
    found faceless) without a word. OpenCV's and libjpeg's own lines are logged, not printed: the error says it."""
    thing = f"image {path}"
    check_readable(path, thing)
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise access_error(thing, exc) from None
    except MemoryError:  # a multi-gigabyte file named like an image
        raise EdgeError(thing, f"too large to read ({path.stat().st_size / 1e9:.1f} GB)") from None
    if not data.size:
        raise EdgeError(thing, NOT_AN_IMAGE)
    try:
        with quiet_opencv(), native_stderr_logged(thing):  # a folder source does this once a frame, but the
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)      # decode costs far more than the capture's syscalls
    except cv2.error as exc:
        raise EdgeError(thing, opencv_read_problem(exc)) from None
    if image is None:
        raise EdgeError(thing, not_decoded_problem(data))
    return image


def read_image(path: Path) -> np.ndarray:
    """BGR image or one EdgeError naming the file."""
    if not checked(f"image {path}", path.is_file):
        if checked(f"image {path}", path.is_dir):
            raise EdgeError(f"image {path}", "a folder, not an image file (`python -m edge --source FOLDER` runs "
                                             "every image in a folder)")
        raise EdgeError(f"image {path}", "file not found")
    return load_image(path)


def none_readable(count: int, problems: Counter[str]) -> str:
    """The problem of a folder none of whose `count` image files could be read, saying why unless they were
    all just not images: `none of its 2 image file(s) is readable: cannot access (Permission denied)`."""
    text = f"none of its {count} image file(s) is readable"
    if set(problems) <= {NOT_AN_IMAGE}:
        return text
    if len(problems) == 1:
        return f"{text}: {next(iter(problems))}"
    return f"{text}: " + "; ".join(f"{times} {problem}" for problem, times in problems.most_common())


class ImageSource:
    """A single still image, delivered once (or forever with loop=True)."""

    def __init__(self, path: Path, loop: bool = False) -> None:
        self.path, self.loop = Path(path), loop
        self.name = f"image:{self.path.name}"
        self._image = read_image(self.path)
        self._index = 0

    def read(self) -> Frame | None:
        if self._index > 0 and not self.loop:
            return None
        frame = Frame(image=self._image, timestamp=time.time(), index=self._index, source=self.name)
        self._index += 1
        return frame

    def close(self) -> None:
        return None


class FolderSource:
    """Every image file of a folder, sorted by name; unreadable files are skipped with a warning. The first readable
    one is read at open, so a folder with none is an EdgeError before the run, not a run of 0 frames."""

    def __init__(self, folder: Path, loop: bool = False) -> None:
        self.folder, self.loop = Path(folder), loop
        self.name = f"folder:{self.folder.name}"
        try:
            self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as exc:  # EACCES: a folder this user may not list
            raise access_error(f"source {folder}", exc) from None
        if not self._files:
            raise EdgeError(f"source {folder}", "folder has no image files")
        self._position = 0
        self._index = 0
        self._problems: Counter[str] = Counter()  # why files were skipped since the last image read
        self._pending = self._next_image()
        if self._pending is None:
            raise EdgeError(f"source {folder}", none_readable(len(self._files), self._problems))

    def _next_image(self) -> tuple[Path, np.ndarray] | None:
        """The next readable file and its image (wrapping around when looping), None at the end or after a whole
        pass without one. A file that cannot be read (no access, too large, not an image, gone) is skipped with a
        warning saying why."""
        self._problems.clear()
        for _ in range(len(self._files)):
            if self._position >= len(self._files):
                if not self.loop:
                    return None
                self._position = 0
            path = self._files[self._position]
            self._position += 1
            try:
                if not checked(f"image {path}", path.is_file):  # gone since listed, or a folder named x.jpg
                    raise EdgeError(f"image {path}", "not a file")
                return path, load_image(path)
            except EdgeError as error:
                log.warning("skipping image %s: %s", path, error.problem)
                self._problems[error.problem] += 1
        return None

    def read(self) -> Frame | None:
        item, self._pending = self._pending, None
        if item is None:
            item = self._next_image()
        if item is None:
            return None
        path, image = item
        frame = Frame(image=image, timestamp=time.time(), index=self._index, source=f"{self.name}/{path.name}")
        self._index += 1
        return frame

    def close(self) -> None:
        return None
