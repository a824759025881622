"""Face crops: a box cut by the frame border is padded back to a square on the cut side, not stretched."""

from __future__ import annotations

import numpy as np

from edge.crop import face_crop
from edge.types import Box

FRAME = (120, 160)  # height, width


def frame() -> np.ndarray:
    rows, cols = np.mgrid[0:FRAME[0], 0:FRAME[1]]
    return np.stack([rows % 256, cols % 256, (rows + cols) % 256], axis=-1).astype(np.uint8)


def test_a_box_cut_at_the_left_border_is_padded_on_the_left():
    image = frame()
    crop = face_crop(image, Box(0, 20, 30, 70))  # 30 wide, 50 high: 20 columns were cut off at x < 0
    assert crop.shape[:2] == (50, 50)
    assert (crop[:, 20:] == image[20:70, 0:30]).all()  # the face itself, unmoved, on the right
    assert (crop[:, :20] == image[20:70, 0:1]).all()  # the frame's edge column repeated where the cut was


def test_a_box_cut_at_the_bottom_is_padded_below():
    image = frame()
    crop = face_crop(image, Box(40, 90, 90, 120))  # 50 wide, 30 high, touching the bottom
    assert crop.shape[:2] == (50, 50)
    assert (crop[:30] == image[90:120, 40:90]).all() and (crop[30:] == image[119:120, 40:90]).all()


def test_a_box_wider_than_the_frame_is_padded_on_both_sides():
    image = frame()
    crop = face_crop(image, Box(0, 0, 160, 120))  # the whole frame: cut above and below
    assert crop.shape[:2] == (160, 160)
    assert (crop[20:140] == image).all()


def test_boxes_inside_the_frame_keep_their_shape():
    image = frame()
    assert face_crop(image, Box(10, 10, 40, 60)).shape[:2] == (50, 30)  # the detector's own aspect
    assert face_crop(image, Box(0, 10, 50, 60)).shape[:2] == (50, 50)  # square already
