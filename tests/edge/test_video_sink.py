"""The annotated video: every counted frame is in the file, also when the frame size changes mid-run."""

from __future__ import annotations

import cv2
import numpy as np

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


def test_frames_of_another_size_are_letterboxed_not_lost(tmp_path):
    path = tmp_path / "annotated.mp4"
    sink = VideoSink(path, fps=10.0)
    sizes = [FIRST_SIZE, FIRST_SIZE, *OTHER_SIZES, FIRST_SIZE]
    for index, size in enumerate(sizes):
        sink.write(plain_result(size, index))
    sink.close()
    assert sink.frames == len(sizes) and sink.resized == len(OTHER_SIZES)
    assert frames_in(path) == (len(sizes), FIRST_SIZE)
    assert f"({len(sizes)} frames, {len(OTHER_SIZES)} letterboxed to 160x120)" in sink.describe()


def test_letterbox_keeps_the_aspect_ratio_on_black_bars():
    from edge.sinks.video import letterbox

    wide = np.full((100, 200, 3), GREY, np.uint8)
    boxed = letterbox(wide, FIRST_SIZE)
    assert boxed.shape == (FIRST_SIZE[1], FIRST_SIZE[0], 3)
    assert (boxed[:20] == 0).all() and (boxed[-20:] == 0).all()  # 160x80 picture, 20 px bars above and below
    assert (boxed[20:100] == GREY).all()
