"""Still images: one file, or a folder of files in name order."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}


def read_image(path: Path) -> np.ndarray:
    """BGR image or one EdgeError naming the file."""
    if not path.is_file():
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
    """Every image file of a folder, sorted by name; unreadable files are skipped with a warning."""

    def __init__(self, folder: Path, loop: bool = False) -> None:
        self.folder, self.loop = Path(folder), loop
        self.name = f"folder:{self.folder.name}"
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise EdgeError(f"source {folder}", "folder has no image files")
        self._position = 0
        self._index = 0

    def read(self) -> Frame | None:
        attempts = 0
        while attempts < len(self._files):
            if self._position >= len(self._files):
                if not self.loop:
                    return None
                self._position = 0
            path = self._files[self._position]
            self._position += 1
            attempts += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("skipping unreadable image %s", path)
                continue
            frame = Frame(image=image, timestamp=time.time(), index=self._index, source=f"{self.name}/{path.name}")
            self._index += 1
            return frame
        return None

    def close(self) -> None:
        return None
