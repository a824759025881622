"""Frame sources behind one interface (edge.types.FrameSource), built from SourceConfig."""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.config import SourceConfig
from edge.errors import EdgeError, access_error, checked
from edge.types import FrameSource

log = logging.getLogger(__name__)

LIVE_KINDS = ("camera", "picamera2", "stream")
FILE_KINDS = ("image", "folder", "video")  # opened before the models load (open_file_source)
DEFAULT_CAMERA = "0"
# Video device names, also udev's stable ones (/dev/v4l/by-id/usb-...-video-index0), which survive replugging in
# another port: a camera even while unplugged (the service waits for it). /dev/shm/clip.mp4 is a file.
CAMERA_DEVICE_PREFIX = "/dev/video"  # camera index N is this device on Linux (V4L2)
CAMERA_PREFIXES = (CAMERA_DEVICE_PREFIX, "/dev/v4l/")


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """OpenCV prints its own warnings on failed opens and reads (multi-line for capture backends, `[ WARN:0@...]
    imread_(...)` for images); we report our own one-line errors and warnings."""
    import cv2

    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def check_readable(path: Path, thing: str) -> None:
    """EdgeError `<thing>: cannot access (Permission denied)` unless this user may open the file for reading
    (OpenCV only says it cannot read it, as it says of a file that is not an image or video at all)."""
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise access_error(thing, exc) from None


def is_camera_index(uri: str) -> bool:
    """`0`, `2`: a camera index; `007` is not (it names a file or folder of that name)."""
    return uri.isascii() and uri.isdigit() and str(int(uri)) == uri


def is_camera_device(uri: str) -> bool:
    """A video device name, or any character device (a camera under another name; never a video file)."""
    if uri.startswith(CAMERA_PREFIXES):
        return True
    if not uri.startswith("/dev/"):
        return False
    try:
        return stat.S_ISCHR(os.stat(uri).st_mode)
    except OSError:
        return False


def resolve_kind(cfg: SourceConfig) -> tuple[str, str]:
    """(kind, uri) with `auto` resolved from the uri; no uri means camera 0."""
    uri = cfg.uri if cfg.uri is not None else DEFAULT_CAMERA
    if cfg.kind != "auto":
        return cfg.kind, uri
    from edge.sources.images import IMAGE_SUFFIXES

    lowered = uri.lower()
    if lowered == "demo":
        return "demo", uri
    if lowered in ("picamera2", "picam", "picamera"):
        return "picamera2", uri
    if is_camera_index(uri) or is_camera_device(uri):
        return "camera", uri
    if "://" in uri:
        return "stream", uri
    path, thing = Path(uri), f"source {uri}"
    if checked(thing, path.is_dir):
        return "folder", uri
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "image", uri
    if not checked(thing, path.exists):
        raise EdgeError(thing, "no such file, folder, camera or known source")
    return "video", uri


def _open_once(kind: str, uri: str, cfg: SourceConfig, cancel: threading.Event | None = None) -> FrameSource:
    if kind == "demo":
        from edge.sources.demo import DemoSource

        return DemoSource(cfg.demo_frames, size=(cfg.width, cfg.height), faces=cfg.demo_faces, loop=cfg.loop,
                          fps=cfg.fps, cancel=cancel)
    if kind == "picamera2":
        from edge.sources.picam import PiCamera2Source

        return PiCamera2Source(cfg.width, cfg.height, cfg.fps)
    if kind == "image":
        from edge.sources.images import ImageSource

        return ImageSource(Path(uri), loop=cfg.loop)
    if kind == "folder":
        from edge.sources.images import FolderSource

        return FolderSource(Path(uri), loop=cfg.loop)
    from edge.sources.opencv import CaptureSource

    if kind == "video" and not checked(f"source {uri}", Path(uri).is_file):
        raise EdgeError(f"source {uri}", "no such video file")
    return CaptureSource(uri, kind, cfg.width, cfg.height, cfg.fps, loop=cfg.loop)


def open_source(cfg: SourceConfig, cancel: threading.Event | None = None,
                opened: FrameSource | None = None) -> FrameSource:
    """Open the configured source (raising EdgeError if it cannot be opened now); live ones reconnect.
    `opened`: this source already opened by a probe (open_source of the same config with reconnect off), used as
    the first connection instead of opening the device a second time (a camera slow to release fails that)."""
    kind, uri = resolve_kind(cfg)
    first = opened if opened is not None else _open_once(kind, uri, cfg, cancel)
    if kind in LIVE_KINDS and cfg.reconnect:
        from edge.sources.reconnect import ReconnectingSource

        return ReconnectingSource(lambda: _open_once(kind, uri, cfg), cfg.backoff_initial_s, cfg.backoff_max_s,
                                  cancel=cancel, first=first)
    return first


def open_file_source(cfg: SourceConfig) -> FrameSource | None:
    """The configured source opened now if it is a file (an image, a folder of images, a video file), else None
    (a live source, the demo); either way a path that names nothing is an EdgeError here. A run opens this before
    its models, which take seconds to load on a Pi: a missing, unreadable, too large or undecodable file is
    reported at once, with the error opening it later would give. A live source still opens after the models,
    so that its first frame is not seconds old."""
    kind, _ = resolve_kind(cfg)
    return open_source(cfg) if kind in FILE_KINDS else None


def check_source(cfg: SourceConfig) -> None:
    """EdgeError for what opening the source would refuse at once (exit 2, not waited for), found without opening
    anything (--check-config): a path that names nothing, picamera2 not importable. A camera that is absent or
    busy is not checked: the service waits for it."""
    kind, _ = resolve_kind(cfg)
    if kind == "picamera2":
        from edge.sources.picam import check_importable

        check_importable()
