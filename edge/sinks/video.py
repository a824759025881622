"""Annotated output video (cv2.VideoWriter, mp4v); checked at construction, opened at the first frame to learn its size.

A video has one frame size: later frames of another size (a camera reopened at another resolution, a folder of
mixed images) are letterboxed into the first size, since the writer silently drops frames that do not match.
The codec needs even sides (the writer silently crops an odd one), so an odd-sized frame gets a black row or
column at the bottom or right instead of losing one.

A video has one frame rate too. A file's frames are written one for one at the file's rate. A live source
(camera, stream) delivers at whatever rate the pipeline keeps up with (8 fps on a busy Pi, not the 30 asked),
so its frames are paced by their capture times into fixed slots at the written rate: a frame is repeated
into slots it missed and dropped when another already filled its slot, and the video plays in real time.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError, checked
from edge.sinks.base import BaseSink
from edge.sinks.overlay import draw_overlay
from edge.types import FrameResult

log = logging.getLogger(__name__)

FOURCC = "mp4v"
CONTAINERS = (".mp4", ".m4v", ".mov", ".avi", ".mkv")  # file suffixes OpenCV's FFmpeg writer takes mp4v in
PROBE_SIZE = (64, 48)  # the throw-away writer that checks, before the run, that the file can be written
TARGET_MODE = 0o666  # (less the umask) if the check of the output file creates it; it is removed again at once
LETTERBOX_COLOUR = (0, 0, 0)
MAX_FILL_S = 2.0  # a longer pause (a reconnect, a stall) is cut, not filled with a still frame
# A capture up to this long before its slot starts belongs to that slot. Stamps are float seconds since 1970 (one
# float step is 2.4e-7 s at today's dates), so a frame stamped exactly k / fps after the first may come out a few
# 1e-7 s early: at 30 fps, 7e-6 of a slot. A millisecond, like the events log's STAMP_SLACK_S
# (edge/sinks/events.py), is far above that rounding and far below a frame interval.
SLOT_SLACK_S = 1e-3
EVEN = 2  # the codec's frame sides are multiples of this
PAD_COLOUR = (0, 0, 0)


def slots_due(elapsed_s: float, fps: float) -> int:
    """How many frame slots a real-time video holds once `elapsed_s` seconds of capture have passed: slot k
    starts at k / fps (less SLOT_SLACK_S), and the first frame fills slot 0 (0 or less before it: the clock went
    back)."""
    return math.floor((elapsed_s + SLOT_SLACK_S) * fps) + 1


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) rounded up to the sides the codec takes."""
    width, height = size
    return width + width % EVEN, height + height % EVEN


def pad_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` with black columns on the right and rows at the bottom up to (width, height); unchanged if it fits."""
    height, width = image.shape[:2]
    if (width, height) == size:
        return image
    return cv2.copyMakeBorder(image, 0, size[1] - height, 0, size[0] - width, cv2.BORDER_CONSTANT, value=PAD_COLOUR)


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` scaled to fit (width, height) with its aspect ratio kept, centred on black bars."""
    width, height = size
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    canvas = np.full((height, width, 3), LETTERBOX_COLOUR, np.uint8)
    x, y = (width - new_w) // 2, (height - new_h) // 2
    canvas[y:y + new_h, x:x + new_w] = resized
    return canvas


def check_target(path: Path, thing: str) -> None:
    """EdgeError unless this user may open `path` itself for writing, as the writer will at the first frame: an
    existing file not writable by this user (another's read-only file, also in a sticky /tmp), a link to a folder
    that does not exist. Nothing is truncated or written; a file the open created is removed again."""
    existed = os.path.exists(path)  # False for a dangling link too: the open may create its target
    if existed and not checked(thing, path.is_file):  # follows a link
        raise EdgeError(thing, "not a regular file")  # a FIFO, a device: an mp4 muxer seeks back in its file
    try:
        # O_NONBLOCK: a FIFO put there meanwhile fails (ENXIO) instead of hanging the check
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, TARGET_MODE)
    except OSError as exc:
        link = f": a link to {os.readlink(path)}" if path.is_symlink() else ""
        raise EdgeError(thing, f"cannot write ({exc.strerror}{link})") from None
    os.close(descriptor)
    if not existed:
        Path(os.path.realpath(path)).unlink(missing_ok=True)  # the file made, through a link too, not the link


def check_container(path: Path) -> None:
    """EdgeError unless `path` names a video file of a known container: a suffix the writer takes, not a folder."""
    thing = f"output video {path}"
    if path.suffix.lower() not in CONTAINERS:
        shown = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise EdgeError(thing, f"unsupported container ({shown}); use one of {', '.join(CONTAINERS)}")
    if checked(thing, path.is_dir):
        raise EdgeError(thing, "is a folder")


def check_output(path: Path) -> None:
    """EdgeError unless a video can be written at `path`: a known container, a folder that exists (made here) and
    takes files, the file itself open for writing by this user (check_target), and an mp4v writer OpenCV opens
    there (a probe file, removed again)."""
    thing = f"output video {path}"
    check_container(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeError(thing, f"cannot create folder ({exc.strerror})") from None
    if not os.access(path.parent, os.W_OK):
        raise EdgeError(thing, "folder not writable")
    check_target(path, thing)
    probe = path.with_name(f".{path.stem}.probe-{os.getpid()}{path.suffix}")
    writer = cv2.VideoWriter(str(probe), cv2.VideoWriter_fourcc(*FOURCC), 1.0, PROBE_SIZE)
    try:
        if not writer.isOpened():
            raise EdgeError(thing, f"OpenCV cannot write {FOURCC} {path.suffix} files here")
    finally:
        writer.release()
        probe.unlink(missing_ok=True)


def refuse_source_as_output(path: Path, source_uri: str | None) -> None:
    """EdgeError if the output video is the source file itself: the writer would truncate the recording it reads."""
    if not source_uri or "://" in source_uri:
        return
    source = Path(source_uri)
    try:
        same = os.path.samefile(path, source)
    except OSError:  # either does not exist (yet): no file to lose
        return
    if same:
        raise EdgeError(f"output video {path}", "is the source video itself; writing it would destroy the recording "
                                                "being read (choose another file)")


class VideoSink(BaseSink):
    """`real_time`: pace frames by capture time (live sources); else write every frame once (files, folders)."""

    def __init__(self, path: Path, fps: float = 30.0, real_time: bool = False) -> None:
        self.path, self.fps, self.real_time = Path(path), fps, real_time
        check_output(self.path)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None  # (width, height) of the first frame
        self._video_size: tuple[int, int] | None = None  # the first frame's, padded to even sides
        self._origin: float | None = None  # capture time of slot 0 (moved on after a cut pause)
        self._last: np.ndarray | None = None
        self.frames = 0  # frames written, repeats included
        self.resized = 0  # frames letterboxed into the first frame's size
        self.repeated = self.dropped = self.cuts = 0  # real-time pacing

    def write(self, result: FrameResult) -> None:
        image = draw_overlay(result.frame.image, result)
        height, width = image.shape[:2]
        if self._writer is None:
            self._size, self._video_size = (width, height), even_size((width, height))
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*FOURCC), self.fps,
                                           self._video_size)
            if not self._writer.isOpened():
                raise EdgeError(f"output video {self.path}", "cannot open for writing")
            if self._video_size != self._size:
                log.info("output video %s: %dx%d frames padded to %dx%d (the codec needs even sides)",
                         self.path, *self._size, *self._video_size)
        elif (width, height) != self._size:
            if self.resized == 0:
                log.warning("output video %s: frame size changed from %dx%d to %dx%d; letterboxing into the first size",
                            self.path, *self._size, width, height)
            image = letterbox(image, self._size)
            self.resized += 1
        image = pad_to(image, self._video_size)
        if self.real_time:
            self._write_paced(image, result.frame.timestamp)
        else:
            self._writer.write(image)
            self.frames += 1

    def _write_paced(self, image: np.ndarray, timestamp: float) -> None:
        if self._origin is None:
            self._origin = timestamp
        due = slots_due(timestamp - self._origin, self.fps)
        if abs(due - self.frames) > MAX_FILL_S * self.fps:  # a long pause, or the clock stepped (NTP on a Pi
            # without a real-time clock): this frame takes the next slot
            self._origin = timestamp - self.frames / self.fps
            due = self.frames + 1
            self.cuts += 1
        if due <= self.frames:
            self.dropped += 1  # its slot is already filled
            return
        for _ in range(due - self.frames - 1):  # slots missed since the last frame show that frame
            self._writer.write(self._last if self._last is not None else image)
            self.repeated += 1
        self._writer.write(image)
        self.frames = due
        self._last = image

    def describe(self) -> str:
        resized = f", {self.resized} letterboxed to {self._size[0]}x{self._size[1]}" if self.resized else ""
        paced = ""
        if self.real_time:
            paced = f", real time at {self.fps:.3g} fps: {self.repeated} repeated, {self.dropped} dropped"
            paced += f", {self.cuts} pauses or clock steps over {MAX_FILL_S:g} s cut" if self.cuts else ""
        return f"video: {self.path.resolve()} ({self.frames} frames{resized}{paced})"

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
