"""Audit of edge/commands/photo.py: `python -m edge photo` run in this process on real images with the shipped
model and Haar, its charts read back as pixels, and its still-photo detector settings."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from edge.cli import build_parser
from edge.commands.options import QUIET_LOGGERS
from edge.demo import make_demo_frames
from edge.sinks.overlay import label_colour
from edge.types import Prediction

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CONF_TOLERANCE = 0.006  # conf is printed with 2 decimals, the probabilities with 3


@pytest.fixture
def photo(emotion_model, capsys):
    """`photo(image, out, *flags)`: the command's exit code and stdout; the logger levels it sets are undone."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in QUIET_LOGGERS)]
    levels = [logger.level for logger in loggers]

    def run(image, out, *flags: str) -> tuple[int, str]:  # noqa: ANN001 - Paths
        module, parser = build_parser("photo")
        args = parser.parse_args([str(image), "--out", str(out), "--model", str(emotion_model), "--detector", "haar",
                                  *flags])
        capsys.readouterr()
        code = module.run(args)
        return code, capsys.readouterr().out

    try:
        yield run
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def table_rows(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:2] == ["face", "box"])
    return [line.split() for line in lines[at + 1:] if line[:4].strip().isdigit()]


def test_faces_are_numbered_left_to_right_with_their_confidence_and_drawn(photo, tmp_path):
    image = make_demo_frames(1, faces=3)[0]  # Haar finds these faces top to bottom, not left to right
    path = tmp_path / "group.png"
    cv2.imwrite(str(path), image)
    code, out = photo(path, tmp_path / "out")
    assert code == 0
    rows = table_rows(out)
    assert [row[0] for row in rows] == ["1", "2", "3"], out
    header = next(line for line in out.splitlines() if line.split()[:2] == ["face", "box"])
    assert header.split()[-len(LABELS):] == list(LABELS)  # no name cut short ("surpris")
    boxes = [list(map(int, row[1].split(","))) for row in rows]
    assert [box[0] for box in boxes] == sorted(box[0] for box in boxes), out
    annotated = cv2.imread(str(tmp_path / "out" / "group_annotated.png"))
    assert annotated.shape == image.shape and not np.array_equal(annotated, image)
    for (x1, y1, _, y2), (_, _, label, conf, *probs) in zip(boxes, rows):
        assert abs(float(conf) - max(map(float, probs))) <= CONF_TOLERANCE, out  # conf: the top probability
        assert tuple(annotated[(y1 + y2) // 2, x1]) == label_colour(label), f"no {label} box at x={x1}"


def test_no_faces_names_the_size_limit_and_only_this_photos_old_charts_go(photo, tmp_path):
    """A download named `me (1).jpg`: its charts from an earlier run go, those of `home (1).jpg` stay."""
    path = tmp_path / "me (1).png"
    cv2.imwrite(str(path), np.full((120, 160, 3), 128, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "me (1)_face2_probs.png"
    others = [out / "home (1)_face1_probs.png", out / "me 1_face1_probs.png"]
    for chart in (stale, *others):
        chart.write_bytes(b"an earlier chart")
    code, printed = photo(path, out, "--detector.min_size", "57")
    assert code == 0
    assert "no faces found (faces smaller than 57 px are dropped" in printed
    assert not stale.exists() and all(chart.exists() for chart in others)


def test_a_still_photo_uses_haar_at_photo_width_unless_told_otherwise():
    from edge.commands.options import config_from_args
    from edge.commands.photo import PHOTO_DETECT_WIDTH, photo_detector_config

    _, parser = build_parser("photo")

    def detector(*flags: str):  # noqa: ANN202 - DetectorConfig
        return photo_detector_config(config_from_args(parser.parse_args(["me.jpg", *flags])).detector)

    assert (detector().type, detector().haar.detect_width) == ("haar", PHOTO_DETECT_WIDTH)
    assert detector("--detector.haar.detect_width", "800").haar.detect_width == 800
    assert detector("--detector", "mediapipe").type == "mediapipe"


def decoded_chart(probs: list[float]) -> np.ndarray:
    from edge.commands.photo import chart_png

    data = chart_png(Prediction(LABELS, np.array(probs, np.float32)), "face 1")
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def bar_extent(chart: np.ndarray, label: str) -> tuple[int, int]:
    """(middle row, length in pixels) of the bar drawn in the label's colour."""
    ys, xs = np.nonzero((chart == np.array(label_colour(label), np.uint8)).all(axis=2))
    assert len(xs), f"no {label} bar in the chart's colours"
    return int(np.median(ys)), int(xs.max() - xs.min() + 1)


def test_chart_bars_have_the_overlay_colours_in_table_order_on_a_fixed_scale():
    chart = decoded_chart([0.4, 0.05, 0.05, 0.1, 0.2, 0.1, 0.1])
    rows = [bar_extent(chart, label)[0] for label in ("angry", "fear", "sad", "neutral")]
    assert rows == sorted(rows)  # the first label's bar on top, as in the printed table
    half = bar_extent(chart, "angry")[1]
    confident = bar_extent(decoded_chart([0.8, 0.0, 0.0, 0.1, 0.1, 0.0, 0.0]), "angry")[1]
    assert confident == pytest.approx(2 * half, rel=0.05)  # 0 to 1 on every chart: 0.8 is twice 0.4


def test_no_faces_in_a_large_photo_names_its_detection_width(photo, tmp_path):
    """A 6000 px photo is searched at 1600 px, where Haar's 24 px window is 90 px of the photo: a 70 px face was
    missed while the hint blamed --detector.min_size (40 px), which it passed."""
    path = tmp_path / "large.png"
    cv2.imwrite(str(path), np.full((4000, 6000, 3), 128, np.uint8))
    code, printed = photo(path, tmp_path / "out")
    assert code == 0
    assert ("no faces found (this 6000 px wide photo is searched at 1600 px, where faces under about 90 px are too "
            "small to find: --detector.haar.detect_width 0 searches it whole, slower;") in printed
