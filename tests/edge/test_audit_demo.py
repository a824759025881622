"""Audit of edge/demo.py: the clip is list-like as documented, its seed (the benchmark's --seed) varies both the
background clutter and the faces' path, the background has clutter for the detector, and frames too small are
refused with the limits the message names."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.demo import make_demo_frames
from edge.errors import EdgeError

SMALL = (160, 120)
EDGE_LEVEL = 30.0  # a Sobel magnitude no smooth gradient reaches (it changes under a grey level per pixel)
SOBEL_REACH = 2  # pixels beside a face's edge that still see it
MIN_EDGE_PIXELS = 500  # twelve blurred discs and rectangles have thousands of edge pixels


def outside_faces(clip, index: int, margin: int = 0) -> np.ndarray:
    """A mask of the frame's pixels more than `margin` pixels outside every pasted face."""
    width, height = clip.size
    mask = np.ones((height, width), bool)
    for box in clip.boxes(index):
        mask[max(0, box.y1 - margin):box.y2 + margin, max(0, box.x1 - margin):box.x2 + margin] = False
    return mask


def test_the_clip_indexes_and_slices_like_a_list():
    clip = make_demo_frames(5, size=SMALL)
    assert np.array_equal(clip[-1], clip[4]) and np.array_equal(clip[-5], clip[0])
    for index in (5, -6):
        with pytest.raises(IndexError):
            clip[index]
    sliced = clip[1:5:2]
    assert len(sliced) == 2 and np.array_equal(sliced[0], clip[1]) and np.array_equal(sliced[1], clip[3])
    tail = clip[-2:]
    assert len(tail) == 2 and np.array_equal(tail[0], clip[3]) and np.array_equal(tail[1], clip[4])
    assert len(list(clip)) == 5


def test_the_seed_changes_the_background_and_the_faces_path():
    first, second = make_demo_frames(1, seed=0), make_demo_frames(1, seed=1)
    assert first.boxes(0) != second.boxes(0)
    background = outside_faces(first, 0) & outside_faces(second, 0)
    assert not np.array_equal(first[0][background], second[0][background])


def test_the_background_has_clutter_besides_the_gradient():
    clip = make_demo_frames(1)
    grey = cv2.cvtColor(clip[0], cv2.COLOR_BGR2GRAY).astype(np.float32)
    edges = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)) > EDGE_LEVEL
    mask = outside_faces(clip, 0, margin=SOBEL_REACH)
    mask[:2], mask[-2:], mask[:, :2], mask[:, -2:] = False, False, False, False  # Sobel's border
    assert int((edges & mask).sum()) >= MIN_EDGE_PIXELS


def test_frames_too_low_or_clips_without_frames_or_faces_are_refused():
    with pytest.raises(EdgeError, match="source.height at least 64"):
        make_demo_frames(1, size=(640, 40))
    for frames, faces in ((0, 1), (1, 0)):
        with pytest.raises(ValueError, match="at least one frame and one face"):
            make_demo_frames(frames, size=SMALL, faces=faces)
