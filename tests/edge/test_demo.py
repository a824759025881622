import numpy as np

from edge.demo import PERIOD_FRAMES, make_demo_frames
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


def test_narrow_frames_keep_the_face_inside():
    for size, faces in [((200, 480), 1), ((64, 480), 1), ((100, 64), 3)]:
        clip = make_demo_frames(PERIOD_FRAMES, size=size, faces=faces)
        for i in range(0, PERIOD_FRAMES, 7):
            assert clip[i].shape == (size[1], size[0], 3)
            for b in clip.boxes(i):
                assert 0 <= b.x1 < b.x2 <= size[0] and 0 <= b.y1 < b.y2 <= size[1]


def test_default_clip_is_unchanged_by_the_narrow_frame_clamp():
    assert [clip_box.as_list() for clip_box in make_demo_frames(1).boxes(0)] == [[175, 66, 435, 353]]


def test_too_small_demo_frames_are_one_line_errors(emotion_model, tmp_path):
    from tests.edge.helpers import error_lines, run_edge

    done = run_edge("--source", "demo", "--source.width", "40", "--source.demo_faces", "2", "--model",
                    str(emotion_model), "--detector", "haar", "--out", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert error_lines(done.stderr) == ["error: source demo: 40x480 frames are too small for 2 face(s): "
                                        "source.width must be at least 64, source.height at least 64"]
