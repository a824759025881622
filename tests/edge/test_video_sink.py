"""The annotated video: every counted frame is in the file, also when the frame size changes mid-run."""

from __future__ import annotations

import logging
import re

import cv2
import numpy as np
import pytest

from edge.errors import EdgeError
from edge.sinks.video import VideoSink
from edge.types import Frame, FrameResult

FIRST_SIZE = (160, 120)  # width, height
OTHER_SIZES = [(200, 100), (96, 128), (320, 240)]
GREY = 128


def plain_result(size: tuple[int, int], index: int) -> FrameResult:
    width, height = size
    image = np.full((height, width, 3), GREY, np.uint8)
    return FrameResult(Frame(image, timestamp=float(index), index=index, source="test"))


def frames_in(path) -> tuple[int, tuple[int, int]]:
    cap = cv2.VideoCapture(str(path))
    count, size = 0, None
    while True:
        ok, image = cap.read()
        if not ok:
            break
        count += 1
        size = (image.shape[1], image.shape[0])
    cap.release()
    return count, size


def test_frames_of_another_size_are_letterboxed_not_lost(tmp_path, caplog):
    path = tmp_path / "annotated.mp4"
    sink = VideoSink(path, fps=10.0)
    sizes = [FIRST_SIZE, FIRST_SIZE, *OTHER_SIZES, FIRST_SIZE]
    with caplog.at_level(logging.WARNING, logger="edge.sinks.video"):
        for index, size in enumerate(sizes):
            sink.write(plain_result(size, index))
    sink.close()
    assert len(caplog.records) == 1 and "letterboxing" in caplog.records[0].getMessage()  # once, not per frame
    assert sink.frames == len(sizes) and sink.resized == len(OTHER_SIZES)
    assert frames_in(path) == (len(sizes), FIRST_SIZE)
    assert f"({len(sizes)} frames, {len(OTHER_SIZES)} letterboxed to 160x120)" in sink.describe()


def test_the_output_is_checked_when_the_sink_is_made(tmp_path):
    for name, problem in [("v.xyz", "unsupported container ('.xyz')"), ("v", "unsupported container (no suffix)")]:
        with pytest.raises(EdgeError, match=re.escape(problem)):
            VideoSink(tmp_path / "new" / name)
    assert not (tmp_path / "new").exists()  # refused before making anything
    (tmp_path / "clip.mp4").mkdir()
    with pytest.raises(EdgeError, match="is a folder"):
        VideoSink(tmp_path / "clip.mp4")
    for suffix in (".avi", ".MKV"):  # the supported containers, any case: written, and no probe file left over
        path = tmp_path / "out" / f"annotated{suffix}"
        sink = VideoSink(path, fps=10.0)
        assert list(path.parent.iterdir()) == []
        sink.write(plain_result(FIRST_SIZE, 0))
        sink.close()
        assert frames_in(path) == (1, FIRST_SIZE)
        path.unlink()


def test_the_output_file_itself_is_checked_not_only_its_folder(tmp_path):
    """The writer opens the file at the first frame: a link into a folder that does not exist, or a FIFO, is
    refused when the sink is made. The check writes nothing: a link is followed and kept, no file is left where
    none was, and an existing recording is untouched until the first frame."""
    import os

    links = tmp_path / "links"
    links.mkdir()
    missing = tmp_path / "missing" / "x.mp4"
    (links / "dangling.mp4").symlink_to(missing)
    with pytest.raises(EdgeError, match=re.escape(f"cannot write (No such file or directory: a link to {missing})")):
        VideoSink(links / "dangling.mp4")
    os.mkfifo(tmp_path / "pipe.mp4")
    with pytest.raises(EdgeError, match="not a regular file"):
        VideoSink(tmp_path / "pipe.mp4")
    (tmp_path / "made").mkdir()
    (links / "to-made.mp4").symlink_to(tmp_path / "made" / "v.mp4")
    (tmp_path / "old.mp4").write_bytes(b"an earlier recording")
    untouched = [lambda: list((tmp_path / "made").iterdir()) == [],
                 lambda: (tmp_path / "old.mp4").read_bytes() == b"an earlier recording"]
    for path, unchanged in zip((links / "to-made.mp4", tmp_path / "old.mp4"), untouched):
        sink = VideoSink(path, fps=10.0)
        assert unchanged()
        sink.write(plain_result(FIRST_SIZE, 0))
        sink.close()
        assert frames_in(path) == (1, FIRST_SIZE)
    assert (links / "to-made.mp4").is_symlink() and (tmp_path / "made" / "v.mp4").is_file()


def test_letterbox_keeps_the_aspect_ratio_on_black_bars():
    from edge.sinks.video import letterbox

    wide = np.full((100, 200, 3), GREY, np.uint8)
    boxed = letterbox(wide, FIRST_SIZE)
    assert boxed.shape == (FIRST_SIZE[1], FIRST_SIZE[0], 3)
    assert (boxed[:20] == 0).all() and (boxed[-20:] == 0).all()  # 160x80 picture, 20 px bars above and below
    assert (boxed[20:100] == GREY).all()


FILE_FPS = 12.5
CONFIGURED_FPS = 30.0
CLIP_FRAMES = 6


def video_fps(path) -> float:
    cap = cv2.VideoCapture(str(path))
    try:
        return cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()


def write_clip(path):
    """CLIP_FRAMES demo frames as an mp4v file at FILE_FPS."""
    from edge.demo import make_demo_frames

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FILE_FPS, (640, 480))
    for image in make_demo_frames(CLIP_FRAMES):
        writer.write(image)
    writer.release()
    return path


def test_annotated_video_of_a_file_keeps_the_file_rate(emotion_model, tmp_path):
    from edge.commands.run import build_pipeline
    from edge.config import RunConfig
    clip = write_clip(tmp_path / "clip.mp4")
    out = tmp_path / "annotated.mp4"
    cfg = RunConfig.model_validate({
        "source": {"uri": str(clip), "fps": CONFIGURED_FPS}, "detector": {"type": "haar"},
        "classifier": {"model": str(emotion_model)},
        "output": {"dir": str(tmp_path), "events": False, "video": str(out)}})
    pipeline = build_pipeline(cfg)
    try:
        assert pipeline.source.fps == FILE_FPS
        pipeline.run()
    finally:
        pipeline.close()
    assert video_fps(out) == FILE_FPS and frames_in(out)[0] == CLIP_FRAMES


class SilentCapture:
    """A capture whose container does not state a frame rate."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def get(self, prop: int) -> float:
        return self.rate


def test_file_without_a_rate_uses_the_configured_one():
    from edge.sources.opencv import file_fps

    assert file_fps(SilentCapture(0.0), CONFIGURED_FPS) == CONFIGURED_FPS
    assert file_fps(SilentCapture(float("nan")), CONFIGURED_FPS) == CONFIGURED_FPS
    assert file_fps(SilentCapture(FILE_FPS), CONFIGURED_FPS) == FILE_FPS


def timed_result(size: tuple[int, int], index: int, timestamp: float, level: int) -> FrameResult:
    width, height = size
    image = np.full((height, width, 3), level, np.uint8)
    return FrameResult(Frame(image, timestamp=timestamp, index=index, source="camera"))


def frame_levels(path) -> list[int]:
    """The grey level of each frame in the file, to tell which captured frame fills which slot."""
    cap = cv2.VideoCapture(str(path))
    levels = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        levels.append(int(round(float(image.mean()))))
    cap.release()
    return levels


LIVE_FPS = 10.0


def test_a_live_source_is_paced_into_real_time(tmp_path):
    """A camera delivering 4 fps into a 10 fps video: each capture is repeated into the slots up to the next one,
    so 2 s of capture play for 2 s; two captures in one slot keep the first; a 30 s stall is cut, not filled."""
    path = tmp_path / "live.mp4"
    sink = VideoSink(path, fps=LIVE_FPS, real_time=True)
    captures = [(0.0, 40), (0.25, 80), (0.5, 120), (0.52, 250), (0.75, 160), (1.0, 200)]  # (seconds, grey level)
    captures.append((31.0, 10))  # after a 30 s stall
    for index, (seconds, level) in enumerate(captures):
        sink.write(timed_result(FIRST_SIZE, index, 1000.0 + seconds, level))
    sink.close()
    assert (sink.repeated, sink.dropped, sink.cuts) == (6, 1, 1)
    assert sink.frames == 12 and "real time at 10 fps: 6 repeated, 1 dropped" in sink.describe()
    assert sink.describe().endswith(", 1 pauses or clock steps over 2 s cut)")
    levels = frame_levels(path)
    # slot k covers [k / 10, (k + 1) / 10) s; a capture fills its own slot and the ones it missed show the last one
    expected = [40, 40, 80, 80, 80, 120, 120, 160, 160, 160, 200, 10]
    assert len(levels) == len(expected)
    assert all(abs(got - want) <= 6 for got, want in zip(levels, expected)), levels  # mp4v is lossy


def test_slots_due_counts_the_first_frame_and_tolerates_float_time():
    from edge.sinks.video import slots_due

    assert slots_due(0.0, LIVE_FPS) == 1
    assert slots_due(0.098, LIVE_FPS) == 1 and slots_due(0.1, LIVE_FPS) == 2
    assert slots_due(0.3 - 0.2, LIVE_FPS) == 2  # 0.09999999999999998 s: float arithmetic, still slot 1
    assert slots_due(0.0995, LIVE_FPS) == 2  # within SLOT_SLACK_S (1 ms) of slot 1: in it
    assert slots_due(-5.0, LIVE_FPS) <= 0  # the clock went back: VideoSink cuts there


EPOCH_NOW = 1.8e9  # seconds since 1970 in 2027: float stamps there are 2.4e-7 s apart
PACED_FPS = 30.0
PACED_FRAMES = 90


def paced_run(path, stamps: list[float]) -> VideoSink:
    sink = VideoSink(path, fps=PACED_FPS, real_time=True)
    for index, stamp in enumerate(stamps):
        sink.write(timed_result(FIRST_SIZE, index, stamp, GREY))
    sink.close()
    return sink


def test_exactly_timed_frames_are_neither_repeated_nor_dropped(tmp_path):
    """A looping demo or a file behind a stream URL stamps frame k at start + k / fps (edge.timebase.ClipClock):
    with today's epoch seconds, float rounding puts some of them a few 1e-7 s before their slot. Every one is
    written once: no repeats, no drops."""
    from edge.timebase import ClipClock

    clock = ClipClock(PACED_FPS)
    for name, stamps in [("clock", [clock.stamp(k) for k in range(PACED_FRAMES)]),
                         ("epoch", [EPOCH_NOW + k / PACED_FPS for k in range(PACED_FRAMES)])]:
        sink = paced_run(tmp_path / f"{name}.mp4", stamps)
        assert (sink.frames, sink.repeated, sink.dropped, sink.cuts) == (PACED_FRAMES, 0, 0, 0), name
        assert frames_in(tmp_path / f"{name}.mp4")[0] == PACED_FRAMES


EARLY_S = 0.005  # well over SLOT_SLACK_S: a frame this early is in the slot before its own


def test_late_and_early_frames_are_still_repeated_and_dropped(tmp_path):
    """The slack absorbs float rounding only: a missed slot is still filled by a repeat, a second frame in one
    slot still dropped, a frame 5 ms early for its slot still lands in the one before (dropped, its own slot
    repeated)."""
    stamps = [EPOCH_NOW + k / PACED_FPS for k in range(30) if k != 10]  # slot 10 missed: 1 repeat
    stamps.append(EPOCH_NOW + 20.5 / PACED_FPS)  # a second frame in slot 20: dropped
    stamps[stamps.index(EPOCH_NOW + 25 / PACED_FPS)] -= EARLY_S  # in slot 24, already filled: 1 drop, 1 repeat
    sink = paced_run(tmp_path / "uneven.mp4", sorted(stamps))
    assert (sink.frames, sink.repeated, sink.dropped, sink.cuts) == (30, 2, 2, 0)


ODD_SIZE = (301, 201)  # width, height
WHITE = 255


def test_odd_sized_frames_are_padded_not_cropped(tmp_path):
    """The codec takes even sides only (OpenCV's writer crops to 300x200): the video is 302x202, the picture whole
    with a black column at the right and a black row at the bottom; letterboxed frames of another size too."""
    path = tmp_path / "odd.mp4"
    sink = VideoSink(path, fps=10.0)
    width, height = ODD_SIZE
    picture = np.full((height, width, 3), WHITE, np.uint8)
    for index in range(3):
        sink.write(FrameResult(Frame(picture, timestamp=float(index), index=index, source="test")))
    sink.write(plain_result(FIRST_SIZE, 3))  # another size: letterboxed into 301x201, then padded
    sink.close()
    assert frames_in(path) == (4, (width + 1, height + 1))
    cap = cv2.VideoCapture(str(path))
    ok, first = cap.read()
    cap.release()
    assert ok
    assert first[:height, :width].mean() > WHITE - 8  # mp4v is lossy
    assert first[:height, width - 1].mean() > WHITE - 12 and first[height - 1, :width].mean() > WHITE - 12  # kept
    assert first[:, width:].mean() < 12 and first[height:, :].mean() < 12  # the padding is black


def test_pacing_survives_the_clock_stepping_back(tmp_path):
    """An NTP correction on a Pi without a real-time clock: frames after a 60 s step back are written, not dropped."""
    sink = VideoSink(tmp_path / "step.mp4", fps=LIVE_FPS, real_time=True)
    for index in range(20):
        sink.write(timed_result(FIRST_SIZE, index, 1000.0 + index / LIVE_FPS, GREY))
    for index in range(20, 40):
        sink.write(timed_result(FIRST_SIZE, index, 940.0 + index / LIVE_FPS, GREY))
    sink.close()
    assert (sink.frames, sink.dropped, sink.cuts) == (40, 0, 1)


def test_the_source_video_is_never_the_output(emotion_model, tmp_path):
    from edge.commands.run import build_pipeline
    from edge.config import RunConfig
    clip = write_clip(tmp_path / "clip.mp4")
    recorded = clip.read_bytes()
    (tmp_path / "sub").mkdir()
    cfg = RunConfig.model_validate({
        "source": {"uri": str(clip)}, "detector": {"type": "haar"}, "classifier": {"model": str(emotion_model)},
        "output": {"dir": str(tmp_path), "events": False, "video": str(tmp_path / "sub" / ".." / "clip.mp4")}})
    with pytest.raises(EdgeError, match="is the source video itself"):
        build_pipeline(cfg)
    assert clip.read_bytes() == recorded


def test_only_a_source_played_in_real_time_is_paced(tmp_path):
    """The demo asked for and looping plays in real time (paced, like a camera); the bounded demo a run falls back
    to without a camera is a clip (one frame per frame), whatever kind was asked for."""
    from edge.commands.run import paced_by_capture_time
    from edge.config import RunConfig
    from edge.sources.demo import DemoSource

    asked = RunConfig.model_validate({"source": {"uri": "demo"}})
    assert paced_by_capture_time(DemoSource(CLIP_FRAMES, loop=True), asked)
    assert not paced_by_capture_time(DemoSource(CLIP_FRAMES), asked)
    assert not paced_by_capture_time(DemoSource(CLIP_FRAMES), RunConfig())  # the fallback from camera 0
    assert paced_by_capture_time(object(), RunConfig())  # a camera (no real_time of its own)
