import numpy as np

from edge.demo import make_demo_frames
from edge.tracking import iou


def test_clip_is_deterministic_and_lazy():
    a, b = make_demo_frames(10), make_demo_frames(10)
    assert len(a) == 10
    assert a[3].shape == (480, 640, 3) and a[3].dtype == np.uint8
    assert np.array_equal(a[3], b[3])
    assert not np.array_equal(a[0], a[5])  # the face moves
    assert not np.array_equal(a[0], make_demo_frames(10, seed=1)[0])


def test_face_moves_and_scales_inside_the_frame():
    clip = make_demo_frames(120)
    boxes = [clip.boxes(i)[0] for i in range(0, 120, 10)]
    heights = {b.height for b in boxes}
    centres = {(b.x1 + b.x2) // 2 for b in boxes}
    assert max(heights) - min(heights) > 40
    assert max(centres) - min(centres) > 100
    for b in boxes:
        assert 0 <= b.x1 < b.x2 <= 640 and 0 <= b.y1 < b.y2 <= 480


def test_three_faces_do_not_overlap_and_custom_size():
    clip = make_demo_frames(30, size=(800, 600), faces=3)
    assert clip[0].shape == (600, 800, 3)
    for i in range(30):
        boxes = clip.boxes(i)
        assert len(boxes) == 3
        assert all(iou(p, q) == 0 for k, p in enumerate(boxes) for q in boxes[k + 1:])
