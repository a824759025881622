"""`python -m edge --source FILE`: a file source that cannot be used (too large, missing, not an image or video, a
folder without images) is reported before the models load (seconds on a Pi), with the same one-line error and exit
code 2 as when it was found after them. Live sources (camera, stream) still open after the models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.edge.helpers import error_lines, main_in_process, run_edge
from tests.edge.test_media_inputs import TOO_LARGE, demo_image, write_oversized_png

MISSING_MODEL_PROBLEM = "file not found (train and convert a model"


def unusable_source(tmp_path: Path, case: str) -> tuple[Path, str]:
    """A source of the kind `case` that cannot be used, and the one error line it gives."""
    if case == "oversized image":
        bomb = write_oversized_png(tmp_path / "huge.png")
        return bomb, f"error: image {bomb}: {TOO_LARGE}"
    if case == "missing image":
        return tmp_path / "gone.png", f"error: image {tmp_path / 'gone.png'}: file not found"
    if case == "missing path":
        gone = tmp_path / "gone.mp4"
        return gone, f"error: source {gone}: no such file, folder, camera or known source"
    if case == "undecodable video":
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(b"not a video at all")
        return clip, f"error: source {clip}: cannot open or decode video"
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder, f"error: source {folder}: folder has no image files"


@pytest.mark.parametrize("case", ["oversized image", "missing image", "missing path", "undecodable video",
                                  "folder without images"])
def test_an_unusable_file_source_is_reported_before_any_model_loads(case, monkeypatch, capsys, tmp_path):
    import edge.classifier
    import edge.detectors

    loaded: list[str] = []

    def load(name: str):  # noqa: ANN202 - a stand-in for a model loader
        def loader(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
            loaded.append(name)
            raise AssertionError(f"the {name} loaded before the source was checked")
        return loader

    monkeypatch.setattr(edge.classifier.EmotionClassifier, "from_config", staticmethod(load("classifier")))
    monkeypatch.setattr(edge.detectors, "make_detector", load("face detector"))
    source, expected = unusable_source(tmp_path, case)
    code, stderr = main_in_process(["--source", str(source), "--headless", "--out", str(tmp_path / "out")],
                                   monkeypatch, capsys)
    assert (code, error_lines(stderr), loaded) == (2, [expected], [])
    assert "Traceback" not in stderr


def test_the_source_error_comes_first_even_when_the_model_is_missing_too(tmp_path):
    """A real run: the image's error, not the (also missing) model's, and nothing of the model's loading."""
    bomb = write_oversized_png(tmp_path / "huge.png")
    done = run_edge("--source", str(bomb), "--model", str(tmp_path / "no-model.tflite"), "--headless",
                    "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert error_lines(done.stderr) == [f"error: image {bomb}: {TOO_LARGE}"], done.stderr
    assert "Traceback" not in done.stderr and MISSING_MODEL_PROBLEM not in done.stderr


def test_a_usable_image_still_meets_the_models_errors(tmp_path):
    """Opened early, a good image is kept for the run: a missing model is then the error, as before."""
    image = demo_image(tmp_path / "face.png")
    model = tmp_path / "no-model.tflite"
    done = run_edge("--source", str(image), "--model", str(model), "--headless", "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = error_lines(done.stderr)
    assert line.startswith(f"error: model {model}: {MISSING_MODEL_PROBLEM}"), done.stderr


def test_a_video_opened_before_the_models_starts_its_clock_at_the_first_read(monkeypatch, tmp_path):
    """Opened seconds before the run's first frame, a video file's stamps still count from its first read."""
    import cv2

    import edge.sources.opencv as opencv
    from edge.config import SourceConfig
    from edge.demo import make_demo_frames
    from edge.sources import open_file_source

    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for frame in make_demo_frames(3, size=(320, 240)):
        writer.write(frame)
    writer.release()
    started: list[float] = []
    real_clock = opencv.ClipClock

    def clock(fps: float):  # noqa: ANN202 - the real clock, its start recorded
        started.append(fps)
        return real_clock(fps)

    monkeypatch.setattr(opencv, "ClipClock", clock)
    source = open_file_source(SourceConfig(uri=str(clip)))
    try:
        assert started == []
        assert source.read() is not None and source.read() is not None
        assert started == [10.0]
    finally:
        source.close()
