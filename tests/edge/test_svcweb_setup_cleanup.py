"""A set-up that fails half way closes what it opened (models, plugin sinks); `photo` takes only the flags it uses;
Ctrl-C while the models load exits 130."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.cli import build_parser
from edge.errors import EdgeError
from tests.edge.helpers import error_lines, run_edge


class Recorder:
    """Records which objects were closed (stands in for models and sinks)."""

    def __init__(self) -> None:
        self.closed: list[str] = []

    def part(self, name: str):
        recorder = self

        class Part:
            def close(self) -> None:
                recorder.closed.append(name)

        return Part()


def test_build_pipeline_closes_the_classifier_when_the_detector_fails(monkeypatch):
    import edge.classifier
    import edge.detectors
    from edge.commands.run import build_pipeline
    from edge.config import RunConfig

    recorder = Recorder()
    monkeypatch.setattr(edge.classifier.EmotionClassifier, "from_config",
                        staticmethod(lambda *_: recorder.part("classifier")))

    def broken_detector(_cfg):
        raise EdgeError("detector", "broken")

    monkeypatch.setattr(edge.detectors, "make_detector", broken_detector)
    extra = recorder.part("web")
    with pytest.raises(EdgeError, match="broken"):
        build_pipeline(RunConfig(), extra_sinks=[extra])
    assert recorder.closed == ["classifier"]  # the caller's sinks stay the caller's


def test_run_closes_plugin_sinks_when_the_pipeline_cannot_be_built(monkeypatch, tmp_path):
    import edge.commands.run as run_command

    recorder = Recorder()
    monkeypatch.setattr(run_command, "build_plugin_sinks", lambda *_: [recorder.part("web")])
    monkeypatch.setattr(run_command, "apply_log_level", lambda _level: None)  # leave pytest's logging alone

    def broken_pipeline(*_args):
        raise EdgeError("source", "cannot open")

    monkeypatch.setattr(run_command, "build_pipeline", broken_pipeline)
    _, parser = build_parser("run")
    with pytest.raises(EdgeError, match="cannot open"):
        run_command.run(parser.parse_args(["--headless", "--out", str(tmp_path)]))
    assert recorder.closed == ["web"]


def test_photo_models_are_closed_when_classification_fails(monkeypatch):
    import edge.classifier
    import edge.commands.photo as photo
    import edge.detectors
    from edge.config import RunConfig

    recorder = Recorder()
    monkeypatch.setattr(edge.classifier.EmotionClassifier, "from_config",
                        staticmethod(lambda *_: recorder.part("classifier")))
    monkeypatch.setattr(edge.detectors, "make_detector", lambda _cfg: recorder.part("detector"))

    def broken(*_args, **_kwargs):
        raise RuntimeError("inference failed")

    monkeypatch.setattr(photo, "classify_photo", broken)
    with pytest.raises(RuntimeError):
        photo.classify_file(None, RunConfig(), "test")
    assert sorted(recorder.closed) == ["classifier", "detector"]


def test_a_photo_whose_model_fails_leaves_no_empty_output_folder(tmp_path):
    image = tmp_path / "grey.png"
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    out = tmp_path / "new" / "out"
    done = run_edge("photo", str(image), "--out", str(out), "--model", str(tmp_path / "missing.tflite"))
    assert done.returncode == 2 and "file not found" in done.stderr
    assert not (tmp_path / "new").exists()


def test_photo_checks_its_output_folder_before_loading_models(tmp_path):
    image = tmp_path / "grey.png"
    cv2.imwrite(str(image), np.zeros((64, 64, 3), np.uint8))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = run_edge("photo", str(image), "--out", str(blocker / "out"), "--model", str(tmp_path / "missing.tflite"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert error_lines(done.stderr) == [f"error: output folder {blocker / 'out'}: cannot write ({blocker} is a file, "
                                        "not a folder)"]


@pytest.mark.parametrize("flag", ["--output.dir", "--source.uri", "--max_frames", "--web.port", "--store.path"])
def test_photo_refuses_run_flags_it_would_ignore(flag):
    _, parser = build_parser("photo")
    with pytest.raises(EdgeError, match=f"unrecognized arguments: {flag}"):
        parser.parse_args(["me.jpg", flag, "1"])


def test_photo_takes_detector_classifier_and_log_level_flags():
    _, parser = build_parser("photo")
    args = parser.parse_args(["me.jpg", "--detector.haar.scale_factor", "1.2", "--classifier.num_threads", "2",
                              "--log_level", "debug"])
    from edge.commands.options import config_from_args

    cfg = config_from_args(args)
    assert (cfg.detector.haar.scale_factor, cfg.classifier.num_threads, cfg.log_level) == (1.2, 2, "debug")
    for spelling in ("--log-level", "--log_level"):  # as in a run; the dotted key's spelling still works
        assert config_from_args(parser.parse_args(["me.jpg", spelling, "warning"])).log_level == "warning"
        assert config_from_args(build_parser("run")[1].parse_args([spelling, "warning"])).log_level == "warning"


def test_ctrl_c_while_loading_exits_130(monkeypatch):
    import edge.__main__ as entry
    import edge.cli

    def interrupted(_argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(edge.cli, "dispatch", interrupted)
    monkeypatch.setattr(entry, "setup_logging", lambda: None)  # leave pytest's logging alone
    assert entry.main(["--headless"]) == entry.EXIT_INTERRUPTED == 130
