import numpy as np

from edge.sinks.overlay import LABEL_COLOURS, NAME_WIDTH, bar_panel_rect, draw_overlay
from edge.types import Box, FaceResult, Frame, FrameResult, Prediction

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def make_result(image: np.ndarray, box: Box, probs: list[float], fps: float = 0.0) -> FrameResult:
    p = Prediction(LABELS, np.array(probs, np.float32))
    face = FaceResult(box=box, track_id=7, raw=p, smoothed=p, label=p.label)
    return FrameResult(frame=Frame(image=image, timestamp=0.0, index=0), faces=[face], fps=fps)


def test_box_label_and_bars_drawn_in_label_colour():
    image = np.zeros((480, 640, 3), np.uint8)
    box = Box(100, 150, 260, 330)
    result = make_result(image, box, [0.02, 0.02, 0.02, 0.8, 0.04, 0.05, 0.05])
    out = draw_overlay(image, result)
    happy = np.array(LABEL_COLOURS["happy"], np.uint8)
    assert out is not image and not image.any()  # pure: input untouched
    # box edges in the label colour (left edge, mid-height; bottom edge, mid-width)
    assert np.array_equal(out[240, box.x1], happy)
    assert np.array_equal(out[box.y2 - 1, 180], happy)
    # inside of the box stays untouched
    assert not out[240, 180].any()
    # probability panel: the happy bar is mostly filled with the happy colour, the angry bar is not
    x, y, width, row_h = bar_panel_rect(result.faces[0], image.shape, 1.0)
    assert x >= box.x2  # panel to the right of the box
    happy_row = out[y + 3 * row_h + row_h // 2, x:x + width]
    angry_row = out[y + 0 * row_h + row_h // 2, x:x + width]
    bar_width = width - NAME_WIDTH
    assert abs(int((happy_row == happy).all(axis=1).sum()) - round(0.8 * bar_width)) <= 1
    assert abs(int((angry_row == np.array(LABEL_COLOURS["angry"], np.uint8)).all(axis=1).sum()) - round(0.02 * bar_width)) <= 1


def test_fps_text_and_scaling_with_frame_size():
    small = np.zeros((240, 320, 3), np.uint8)
    big = np.zeros((960, 1280, 3), np.uint8)
    r_small = make_result(small, Box(20, 20, 100, 100), [0.9, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01], fps=25.0)
    r_big = make_result(big, Box(80, 80, 400, 400), [0.9, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01], fps=25.0)
    drawn_small = draw_overlay(small, r_small)
    drawn_big = draw_overlay(big, r_big)
    assert drawn_small[:30, :100].any()  # FPS text top-left
    _, _, w_small, _ = bar_panel_rect(r_small.faces[0], small.shape, 0.5)
    _, _, w_big, _ = bar_panel_rect(r_big.faces[0], big.shape, 2.0)
    assert w_big == 4 * w_small
    angry = np.array(LABEL_COLOURS["angry"], np.uint8)
    assert (drawn_big == angry).all(axis=2).sum() > 4 * (drawn_small == angry).all(axis=2).sum()


def test_panel_moves_left_when_box_touches_right_edge():
    image = np.zeros((480, 640, 3), np.uint8)
    result = make_result(image, Box(500, 100, 639, 260), [0.1] * 6 + [0.4])
    x, _, width, _ = bar_panel_rect(result.faces[0], image.shape, 1.0)
    assert x + width <= 500


def test_crops_written_only_by_the_crop_sink(tmp_path):
    from edge.sinks.crops import CropSink

    image = np.full((480, 640, 3), 77, np.uint8)
    result = make_result(image, Box(100, 100, 200, 220), [0.9] + [0.1 / 6] * 6)
    sink = CropSink(tmp_path / "crops", interval_s=10.0)
    sink.write(result)
    sink.write(result)  # same track within the interval: not written again
    files = list((tmp_path / "crops").iterdir())
    assert [f.name for f in files] == [f"{sink.run_stamp}_track7_000000_angry.jpg"]
    import cv2

    assert cv2.imread(str(files[0])).shape == (120, 100, 3)


def test_the_caption_of_a_face_at_the_right_edge_moves_left_instead_of_being_cut_off():
    import cv2

    from edge.sinks.overlay import CAPTION_TEXT_SIZE, FONT

    image = np.zeros((480, 640, 3), np.uint8)
    box = Box(600, 240, 640, 280)
    result = make_result(image, box, [0.02, 0.02, 0.02, 0.02, 0.8, 0.06, 0.06])  # sad
    out = draw_overlay(image, result, scale=1.0)
    (caption_width, _), _ = cv2.getTextSize("#7 sad 80%", FONT, CAPTION_TEXT_SIZE, 1)
    sad = np.array(LABEL_COLOURS["sad"], np.uint8)
    caption_row = (out[box.y1 - 8] == sad).all(axis=1)  # a row through the caption's background, above the box
    columns = np.flatnonzero(caption_row)
    assert columns.size and columns.max() < 640 and columns.max() - columns.min() + 1 >= caption_width


NARROW_FRAME = (240, 200)  # height, width: narrower than a box and its panel side by side


def test_a_panel_with_no_room_beside_the_box_stays_inside_the_frame():
    """A face at the right of a narrow frame, or at its bottom: the panel is moved in, never cut off."""
    height, width = NARROW_FRAME
    image = np.zeros((height, width, 3), np.uint8)
    for box in (Box(100, 20, 200, 120), Box(10, 150, 70, 240)):
        face = make_result(image, box, [1 / 7] * 7).faces[0]
        x, y, panel_w, row_h = bar_panel_rect(face, image.shape, 1.0)
        assert 0 <= x and x + panel_w <= width and 0 <= y and y + len(LABELS) * row_h <= height, box


def test_the_caption_of_a_face_at_the_top_edge_is_drawn_inside_the_frame():
    import cv2

    from edge.sinks.overlay import CAPTION_TEXT_SIZE, FONT

    image = np.zeros((480, 640, 3), np.uint8)
    box = Box(100, 0, 300, 200)
    out = draw_overlay(image, make_result(image, box, [0.8] + [0.2 / 6] * 6), scale=1.0)  # angry
    (caption_width, text_height), _ = cv2.getTextSize("#7 angry 80%", FONT, CAPTION_TEXT_SIZE, 1)
    caption = out[4:4 + text_height, box.x1 + 3:box.x1 + caption_width]  # under the box's top edge
    assert (caption == np.array(LABEL_COLOURS["angry"], np.uint8)).all(axis=2).mean() > 0.3  # its background


def test_small_frames_keep_legible_text_and_web_colours_match_the_overlay():
    from edge.sinks.overlay import MIN_SCALE, default_scale, hex_colour

    assert default_scale(np.zeros((120, 160, 3), np.uint8)) == MIN_SCALE
    assert default_scale(np.zeros((960, 1280, 3), np.uint8)) == 2.0
    assert hex_colour(LABEL_COLOURS["angry"]) == "#e62828"  # BGR (40, 40, 230): red
