"""cv2.VideoCapture sources: cameras (index or /dev/videoN), video files and network streams."""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import time
import urllib.parse
from pathlib import Path

import cv2

from edge.errors import EdgeError, SourceUnavailable
from edge.sources import CAMERA_DEVICE_PREFIX, LIVE_KINDS, check_readable, quiet_opencv
from edge.timebase import ClipClock
from edge.types import Frame

log = logging.getLogger(__name__)

STREAM_TIMEOUT_MS = 5000  # open/read timeout for network streams (FFmpeg's default is 30 s)
HIDDEN = "***"
# Query keys whose values are secrets: keys containing one of SECRET_WORDS, or with one of SECRET_PARTS as a part
# (split at _ - . [ ]).
SECRET_WORDS = ("password", "passwd", "pwd", "passcode", "loginpas", "token", "secret", "apikey", "credential")
SECRET_PARTS = ("pw", "pass", "key", "auth", "sig", "signature", "session", "sid")
END_SLACK_FRAMES = 2  # a container's frame count may be an estimate off by a frame or two
# OpenCV reads this once, at the process's first FFmpeg capture: set, it routes FFmpeg's log through OpenCV's callback
# at that level; unset, FFmpeg prints its errors to stderr itself (OPENCV_LOG_LEVEL does not reach them).
FFMPEG_LOGLEVEL_ENV = "OPENCV_FFMPEG_LOGLEVEL"
FFMPEG_LOG_QUIET = "-8"  # AV_LOG_QUIET


def is_secret_key(key: str) -> bool:
    """Whether a query key names a secret: one of SECRET_WORDS inside it (`camPassword`, `loginpas`), or one of
    SECRET_PARTS as a whole part of it (`pw`, `user_key`; not `keyframe`, `monkey` or `author`)."""
    key = urllib.parse.unquote(key).lower()
    parts = re.split(r"[_\-.\[\]]", key)
    return any(word in key for word in SECRET_WORDS) or any(part in SECRET_PARTS for part in parts)


def _hidden_query(query: str) -> tuple[str, bool]:
    """The query with the value of every secret key replaced by ***, and whether any was: `user=admin&pwd=x` ->
    `user=admin&pwd=***` (many IP cameras take their password in the query, not in user:password@). A value
    is everything up to the next `&` or `;`."""
    pieces = re.split(r"([&;])", query)
    hidden = False
    for index in range(0, len(pieces), 2):
        key, sep, value = pieces[index].partition("=")
        if sep and value and is_secret_key(key):
            pieces[index] = f"{key}={HIDDEN}"
            hidden = True
    return "".join(pieces), hidden


def shown_uri(uri: str | int) -> str:
    """The URI without its password, for logs, events, errors and the web view: `rtsp://admin:pw@cam/x` ->
    `rtsp://admin:***@cam/x`, `http://cam/video?user=admin&pwd=pw` -> `...&pwd=***`. A URI with nothing to hide
    is returned exactly as given. The real URI is only ever handed to the capture backend."""
    text = str(uri)
    try:
        parts = urllib.parse.urlsplit(text)
        has_password = parts.password is not None
    except ValueError:  # e.g. a malformed port: not for us to judge; nothing to hide either way
        return text
    if not parts.netloc:
        return text  # a file name with `?` in it is not a URL
    query, query_hidden = _hidden_query(parts.query)
    if not has_password and not query_hidden:
        return text
    netloc = parts.netloc
    if has_password:
        user = netloc.rsplit("@", 1)[0].split(":", 1)[0]
        netloc = f"{user}:{HIDDEN}@{netloc.rsplit('@', 1)[1]}"
    # a `#` in an unencoded password would start the fragment: after a hidden value, the fragment goes too
    fragment = "" if query_hidden else parts.fragment
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query, fragment=fragment))


def camera_target(uri: str | int) -> int | str:
    """`0` -> 0, `/dev/video2` stays a path (V4L2 opens both)."""
    text = str(uri)
    return int(text) if text.isdigit() else text


def camera_problem(target: int | str) -> str:
    """Why a camera did not open, as far as can be told: a device this user may not use (not in the `video` group,
    the usual case on a fresh Raspberry Pi OS user) is named as such; otherwise absent or busy."""
    device = Path(f"{CAMERA_DEVICE_PREFIX}{target}" if isinstance(target, int) else target)
    if device.exists() and not os.access(device, os.R_OK | os.W_OK):
        return (f"cannot open camera (Permission denied on {device}: add this user to the video group, "
                "`sudo usermod -aG video $USER`, and log in again)")
    return "cannot open camera (no such device or busy)"


def quiet_ffmpeg() -> None:
    """Keep FFmpeg's own lines (`[http @ 0x...] Stream ends prematurely ...` when a stream drops, `[tcp @ ...]
    Connection refused` on a reopen) off stderr, where journald showed them among our log lines: our own log reports
    the drop, the reopen attempts and a source that cannot be opened. Before the first capture opens; a level the
    user set (e.g. 16, errors, to see FFmpeg's reasons, printed by OpenCV to stdout) is kept."""
    os.environ.setdefault(FFMPEG_LOGLEVEL_ENV, FFMPEG_LOG_QUIET)


def file_fps(cap: cv2.VideoCapture, configured: float) -> float:
    """A video file's own frame rate (CAP_PROP_FPS), or `configured` when the container does not say (0, NaN)."""
    rate = cap.get(cv2.CAP_PROP_FPS)
    return float(rate) if math.isfinite(rate) and rate > 0 else configured


class CaptureSource:
    """One cv2.VideoCapture. `kind` is camera, video or stream; video files may loop.

    `fps` is the file's own frame rate for video files, else the configured one (for the annotated video).
    A video file's frames are stamped with the video's own time (the first read's time plus frame index / fps; not
    the open's: a file opens before the models load, edge.sources.open_file_source), not with when they happen to
    be processed: events then fall at the moment of the video they describe, and per-second throttling and gap
    detection do not depend on how fast this machine decodes (a loop keeps counting on)."""

    def __init__(self, uri: str | int, kind: str, width: int = 640, height: int = 480, fps: float = 30.0,
                 loop: bool = False) -> None:
        self.kind, self.loop = kind, loop
        self.name = f"{kind}:{shown_uri(uri)}"
        self._target = camera_target(uri) if kind == "camera" else str(uri)
        self._index = 0
        if kind == "video":  # else OpenCV's "cannot open or decode" hides a file this user may not read
            check_readable(Path(self._target), f"source {shown_uri(uri)}")
        backend = cv2.CAP_V4L2 if kind == "camera" and sys.platform.startswith("linux") else cv2.CAP_ANY
        quiet_ffmpeg()
        with quiet_opencv():
            if kind == "stream":
                params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
                self._cap = cv2.VideoCapture(self._target, cv2.CAP_FFMPEG, params)
            else:
                self._cap = cv2.VideoCapture(self._target, backend)
            if kind == "camera":
                self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
                self._cap.set(cv2.CAP_PROP_FPS, fps)
            ok = self._cap.isOpened()
            self._pending = self._cap.read()[1] if ok else None
        if self._pending is None:
            self._cap.release()
            what = {"camera": camera_problem(self._target), "stream": "cannot open stream",
                    "video": "cannot open or decode video"}[kind]
            error = SourceUnavailable if kind in LIVE_KINDS else EdgeError  # a camera or stream may come back
            raise error(f"source {shown_uri(uri)}", what)
        # A stream URL that names a file (http://host/clip.mp4) has a frame count; RTSP and live HTTP have none.
        self.finite = kind == "stream" and self._cap.get(cv2.CAP_PROP_FRAME_COUNT) > 0
        self._video_time = kind == "video" or self.finite
        self.fps = file_fps(self._cap, fps) if self._video_time else fps
        self._clock: ClipClock | None = None  # started by the first read, not by the open
        self._ended = False
        h, w = self._pending.shape[:2]
        log.info("opened %s (%dx%d, %.3g fps)", self.name, w, h, self.fps)

    def read(self) -> Frame | None:
        image, self._pending = self._pending, None
        if image is None:
            ok, image = self._cap.read()
            if not ok and self._video_time and self.loop:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, image = self._cap.read()
            if not ok:
                self._ended = self.finite and not self.loop and self._at_end()
                return None
        if self._video_time and self._clock is None:
            self._clock = ClipClock(self.fps)
        stamp = self._clock.stamp(self._index) if self._clock is not None else time.time()
        frame = Frame(image=image, timestamp=stamp, index=self._index, source=self.name)
        self._index += 1
        return frame

    def _at_end(self) -> bool:
        """Read to its last frame (a failed read earlier is a dropped connection: reconnect)."""
        frames = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        return self._index >= frames - END_SLACK_FRAMES

    @property
    def ended(self) -> bool:
        """A finite file behind a stream URL was read to its end: done, not a dropped stream to reconnect (with
        --loop it is reopened, which plays it again)."""
        return self._ended

    def close(self) -> None:
        self._cap.release()
