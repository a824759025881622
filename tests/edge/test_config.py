"""edge.config.load_config: every unusable --config file is one EdgeError naming the file, never a traceback."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from edge.config import INSTALL_ROOT, RunConfig, load_config, resolve_data_path
from edge.errors import EdgeError


@pytest.mark.parametrize("content, problem", [
    (b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00", "not a UTF-8 text file (expected YAML)"),
    ("source: {uri: d\u00e9mo}\n".encode("latin-1"), "not a UTF-8 text file (expected YAML)"),
    (b"source:\n  uri: demo\x00\n", "invalid YAML"),
    (b"- just\n- a list\n", "top level must be a mapping"),
], ids=["binary", "latin-1", "nul-byte", "not-a-mapping"])
def test_unusable_config_file_is_one_edge_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "edge.yaml"
    path.write_bytes(content)
    with pytest.raises(EdgeError) as caught:
        load_config(path)
    assert caught.value.thing == f"config {path}"
    assert caught.value.problem.startswith(problem)
    assert len(caught.value.one_line().splitlines()) == 1


def test_utf8_config_with_non_ascii_text_loads(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("output: {dir: sortie-\u00e9t\u00e9}\n", encoding="utf-8")
    assert load_config(path).output.dir == Path("sortie-\u00e9t\u00e9")


def test_model_defaults_come_from_one_place() -> None:
    from edge.bench import cli as bench_cli
    from edge.fetch_detector import DEFAULT_DEST

    config = RunConfig()
    assert bench_cli.DEFAULT_MODEL == config.classifier.model
    assert config.detector.mediapipe.model == bench_cli.DEFAULT_FACE_MODEL
    assert DEFAULT_DEST == INSTALL_ROOT / config.detector.mediapipe.model  # fetched where the runtime looks


def test_a_relative_model_path_is_looked_for_here_then_in_the_install_folder(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The service and `python -m edge` started from another folder still find the shipped models."""
    model = RunConfig().classifier.model
    monkeypatch.chdir(tmp_path)
    assert resolve_data_path(model) == INSTALL_ROOT / model
    (tmp_path / model).parent.mkdir(parents=True)
    (tmp_path / model).write_bytes(b"")
    assert resolve_data_path(model) == model  # one in the working folder comes first


def defaults_of(constructor) -> dict:
    return {name: p.default for name, p in inspect.signature(constructor).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_component_defaults_are_the_configs() -> None:
    """A component built without a config behaves as the default config does: every constructor default that
    has a config field equals that field's default (one place to change a default)."""
    from edge.classifier import EmotionClassifier
    from edge.detectors.blazeface import MediaPipeDetector
    from edge.detectors.haar import HaarDetector
    from edge.sources.reconnect import ReconnectingSource
    from edge.store.sink import StoreSink

    config = RunConfig()
    detector = config.detector
    expected = {
        HaarDetector: {"min_size": detector.min_size, **detector.haar.model_dump()},
        MediaPipeDetector: {"min_size": detector.min_size, **detector.mediapipe.model_dump()},
        EmotionClassifier: {"model_path": config.classifier.model, "num_threads": config.classifier.num_threads,
                            "batch": config.classifier.batch, "mirror_average": config.classifier.mirror_average},
        ReconnectingSource: {"backoff_initial_s": config.source.backoff_initial_s,
                             "backoff_max_s": config.source.backoff_max_s},
        StoreSink: {"interval_s": config.output.interval_s},
    }
    for component, fields in expected.items():
        defaults = defaults_of(component.__init__)
        assert {name: defaults[name] for name in fields} == fields, component.__name__


def test_store_sink_defaults_are_the_configs(tmp_path: Path) -> None:
    from edge.store.sink import StoreSink

    sink = StoreSink(tmp_path / "events.db")
    try:
        store = RunConfig().store
        assert (sink.retention.days, sink.retention.max_mb) == (store.retention_days, store.max_mb)
        assert sink.commit_interval_s == store.commit_interval_s
    finally:
        sink.close()


def parsed(*argv: str) -> RunConfig:
    from edge.cli import build_parser
    from edge.commands.options import config_from_args

    return config_from_args(build_parser("run")[1].parse_args(list(argv)))


def test_a_tilde_path_is_the_home_folders_and_an_empty_one_is_refused(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """YAML and `--out=~/x` leave the tilde to the program: it made a folder named ~ in the working folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "edge.yaml"
    config.write_text("output: {dir: ~/runs, video: ~/clip.mp4}\nstore: {path: ~/events.db}\n")
    cfg = load_config(config, {"classifier.model": "~/m.tflite"})
    assert (cfg.output.dir, cfg.output.video) == (tmp_path / "runs", tmp_path / "clip.mp4")
    assert (cfg.store.path, cfg.classifier.model) == (tmp_path / "events.db", tmp_path / "m.tflite")
    assert load_config(None, {"source.uri": "~/clips"}).source.uri == str(tmp_path / "clips")
    assert load_config(None, {"source.uri": "rtsp://cam/~x"}).source.uri == "rtsp://cam/~x"  # only a leading ~
    config.write_text("output: {dir: ''}\n")
    with pytest.raises(EdgeError, match=r"output.dir: empty path$"):
        load_config(config)


def test_text_flags_keep_numeric_looking_text() -> None:
    cfg = parsed("--web.token", "12345678", "--out", "2024", "--source.uri", "007", "--video", "1.5",
                 "--store.path", "0x10", "--web.host", "127.000.000.001")
    assert cfg.web.token == "12345678" and cfg.output.dir == Path("2024") and cfg.source.uri == "007"
    assert cfg.output.video == Path("1.5") and cfg.store.path == Path("0x10") and cfg.web.host == "127.000.000.001"


def test_other_flags_still_read_yaml_scalars() -> None:
    cfg = parsed("--source", "0", "--source.fps", "15", "--interval", "0.5", "--output.events", "off",
                 "--headless", "--video", "null", "--max-frames", "7")
    assert cfg.source.uri == "0" and cfg.source.fps == 15.0 and cfg.output.interval_s == 0.5
    assert cfg.output.events is False and cfg.output.window == "off" and cfg.output.video is None
    assert cfg.max_frames == 7


def test_a_zero_padded_number_is_a_file_not_a_camera(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge.config import SourceConfig
    from edge.sources import resolve_kind

    assert resolve_kind(SourceConfig(uri="7")) == ("camera", "7")
    with pytest.raises(EdgeError, match="no such file, folder, camera or known source"):
        resolve_kind(SourceConfig(uri="007"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "007").mkdir()
    assert resolve_kind(SourceConfig(uri="007")) == ("folder", "007")


@pytest.mark.parametrize("argv, problem", [
    (("--source.fps", "inf"), "source.fps: Input should be a finite number"),
    (("--source.fps", "nan"), "source.fps: Input should be a finite number"),
    (("--source.fps", "1e-300"), "source.fps: Input should be greater than or equal to 0.01"),
    (("--duration", "1e12"), "duration: Input should be less than or equal to 315360000"),
    (("--source.width", "100000"), "source.width: Input should be less than or equal to 8192"),
    (("--web.stats_window_s", "inf"), "web.stats_window_s: Input should be a finite number"),
    (("--source.backoff_initial_s", "1e10"), "source.backoff_initial_s: Input should be less than or equal to 3600"),
    (("--max-frames", "true"), "max_frames: expected a number, not true"),
    (("--source.fps", "true"), "source.fps: expected a number, not true"),
    (("--interval", "false"), "output.interval_s: expected a number, not false"),
    (("--web.port", "true"), "web.port: expected a number, not true"),
    (("--display.retry_s", "true"), "display.retry_s: expected a number, not true"),
    (("--smoothing.alpha", "0"), "smoothing.alpha: Input should be greater than 0"),
    (("--store.retention_days", "0"), "store.retention_days: Input should be greater than 0"),
    (("--store.commit_interval_s", "5"), "store.commit_interval_s: Input should be less than or equal to 1"),
    (("--detector.every", "0"), "detector.every: Input should be greater than or equal to 1"),
], ids=["fps-inf", "fps-nan", "fps-tiny", "duration-huge", "width-huge", "web-inf", "backoff-huge",
        "frames-boolean", "fps-boolean", "interval-boolean", "port-boolean", "display-boolean", "alpha-zero",
        "retention-zero", "commit-slow", "detect-every-zero"])
def test_values_no_run_can_use_are_one_edge_error(argv: tuple[str, ...], problem: str) -> None:
    """An infinite or absurd frame rate, duration or frame size would crash the run later (a timer that cannot be
    armed, a 37 GB demo frame, an event stamped in the year 1e292): refused up front, naming the key."""
    with pytest.raises(EdgeError) as caught:
        parsed("--source", "demo", *argv)
    assert caught.value.thing == "command line" and caught.value.problem.startswith(f"{' '.join(argv)}: {problem}"), \
        caught.value.one_line()


def test_a_section_given_as_a_plain_value_is_named_not_dropped(tmp_path: Path) -> None:
    """`source: 5` in the file with a --source.* flag: before, the flag replaced the file's value unseen."""
    path = tmp_path / "edge.yaml"
    path.write_text("source: 5\n", encoding="utf-8")
    with pytest.raises(EdgeError) as caught:
        load_config(path, {"source.uri": "demo"})
    assert caught.value.one_line() == f"error: config {path}: source: must be a mapping (a section of keys), not 5"


def test_yaml_booleans_still_set_switches() -> None:
    cfg = parsed("--loop", "--store.enabled", "true", "--detector.haar.equalize", "yes")
    assert cfg.source.loop is True and cfg.store.enabled is True and cfg.detector.haar.equalize is True


def test_a_switch_and_a_flag_that_disagree_are_a_usage_error() -> None:
    with pytest.raises(EdgeError) as caught:
        parsed("--headless", "--window", "on")
    assert caught.value.one_line().startswith("error: command line: --headless contradicts --output.window on")
    assert parsed("--headless", "--window", "off").output.window == "off"  # the same value twice is fine


@pytest.mark.parametrize("switch, flag, word, key", [
    ("--loop", "--source.loop", "yes", ("source", "loop")),
    ("--save-crops", "--output.save_crops", "on", ("output", "save_crops")),
    ("--no-smoothing", "--smoothing.enabled", "off", ("smoothing", "enabled")),
])
def test_a_switch_and_a_yaml_word_that_agree_are_fine(switch: str, flag: str, word: str, key: tuple) -> None:
    """YAML 1.1's yes/no/on/off reach pydantic as text: compared as text with the switch's boolean, they were
    reported as contradicting it."""
    section, name = key
    expected = word in ("yes", "on")
    assert getattr(getattr(parsed(switch, flag, word), section), name) is expected
    opposite = {"yes": "no", "on": "off", "off": "on"}[word]
    with pytest.raises(EdgeError, match="contradicts"):
        parsed(switch, flag, opposite)


def test_yaml_on_and_off_are_the_words_where_a_choice_offers_them(tmp_path: Path) -> None:
    """`window: off` unquoted is the boolean false to YAML 1.1: before, refused as "Input should be 'auto', 'on' or
    'off'", which it was."""
    path = tmp_path / "edge.yaml"
    path.write_text("output:\n  window: off\n", encoding="utf-8")
    assert load_config(path).output.window == "off"
    path.write_text("output:\n  window: on\n", encoding="utf-8")
    assert load_config(path).output.window == "on"
    path.write_text("log_level: no\n", encoding="utf-8")
    with pytest.raises(EdgeError, match="log_level: expected one of debug, error, info, warning, not false"):
        load_config(path)


def test_a_key_given_twice_is_refused_not_silently_dropped(tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys: a `detector:` section written twice lost the first without a word."""
    config = tmp_path / "config.yaml"
    config.write_text("detector:\n  type: haar\nsource:\n  uri: demo\ndetector:\n  every: 3\n")
    with pytest.raises(EdgeError) as raised:
        load_config(config)
    assert raised.value.one_line() == (f"error: config {config}: detector: given twice (lines 1 and 5); "
                                       "write each key once")
    config.write_text("source: {uri: demo, loop: true, uri: 0}\n")  # in one section, on one line
    with pytest.raises(EdgeError, match="uri: given twice"):
        load_config(config)


def test_yaml_merge_keys_and_equal_keys_in_different_sections_still_load(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("source:\n  <<: {width: 320, height: 240}\n  width: 640\n  uri: demo\n"
                      "tracking:\n  enabled: true\nsmoothing:\n  enabled: true\n")
    cfg = load_config(config)
    assert (cfg.source.width, cfg.source.height, cfg.source.uri) == (640, 240, "demo")
    assert cfg.tracking.enabled and cfg.smoothing.enabled
