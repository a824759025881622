"""Still images: one file, or a folder of files in name order."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError, access_error, checked
from edge.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}


def read_image(path: Path) -> np.ndarray:
    """BGR image or one EdgeError naming the file."""
    if not checked(f"image {path}", path.is_file):
        if checked(f"image {path}", path.is_dir):
            raise EdgeError(f"image {path}", "a folder, not an image file (`python -m edge --source FOLDER` runs "
                                             "every image in a folder)")
        raise EdgeError(f"image {path}", "file not found")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise EdgeError(f"image {path}", "unreadable or not an image")
    return image


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
        self._pending = self._next_image()
        if self._pending is None:
            raise EdgeError(f"source {folder}", f"none of its {len(self._files)} image file(s) is readable")

    def _next_image(self) -> tuple[Path, np.ndarray] | None:
        """The next readable file and its image (wrapping around when looping), None at the end or after a whole
        pass without one."""
        for _ in range(len(self._files)):
            if self._position >= len(self._files):
                if not self.loop:
                    return None
                self._position = 0
            path = self._files[self._position]
            self._position += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("skipping unreadable image %s", path)
                continue
            return path, image
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
