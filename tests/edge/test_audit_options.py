"""Audit of edge/commands/options.py through the real command-line parsers: every short flag and switch sets the
config key its help names, photo takes none of a run's switches, `null` clears only fields that may be empty, and
the log level quiets the per-request loggers except when debugging."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.cli import build_parser
from edge.commands.options import QUIET_LOGGERS, apply_log_level, config_from_args
from edge.errors import EdgeError

# flag, value typed, dotted key, value expected in the config (none of them a default)
ALIAS_CASES = [
    ("--source", "demo", "source.uri", "demo"),
    ("--detector", "haar", "detector.type", "haar"),
    ("--model", "other.tflite", "classifier.model", Path("other.tflite")),
    ("--threads", "3", "classifier.num_threads", 3),
    ("--out", "elsewhere", "output.dir", Path("elsewhere")),
    ("--interval", "0.25", "output.interval_s", 0.25),
    ("--window", "on", "output.window", "on"),
    ("--video", "run.mp4", "output.video", Path("run.mp4")),
    ("--max-frames", "9", "max_frames", 9),
    ("--duration", "2.5", "duration", 2.5),
    ("--every", "4", "detector.every", 4),
    ("--log-level", "warning", "log_level", "warning"),
]
SWITCH_CASES = [
    ("--headless", "output.window", "off"),
    ("--loop", "source.loop", True),
    ("--save-crops", "output.save_crops", True),
    ("--no-smoothing", "smoothing.enabled", False),
]


def value_at(cfg, dotted: str):  # noqa: ANN001, ANN201 - a RunConfig and any field's value
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def run_config(*argv: str):  # noqa: ANN201 - RunConfig
    return config_from_args(build_parser("run")[1].parse_args(list(argv)))


@pytest.mark.parametrize("flag, text, dotted, expected", ALIAS_CASES, ids=[case[0] for case in ALIAS_CASES])
def test_each_short_flag_sets_its_own_key(flag, text, dotted, expected):
    default = value_at(run_config(), dotted)
    assert default != expected  # else the case would prove nothing
    assert value_at(run_config(flag, text), dotted) == expected
    assert value_at(run_config(f"--{dotted}", text), dotted) == expected  # the dotted spelling: the same key


@pytest.mark.parametrize("flag, dotted, expected", SWITCH_CASES, ids=[case[0] for case in SWITCH_CASES])
def test_each_switch_sets_its_own_key(flag, dotted, expected):
    assert value_at(run_config(), dotted) != expected
    assert value_at(run_config(flag), dotted) == expected


@pytest.mark.parametrize("flag", [case[0] for case in SWITCH_CASES])
def test_photo_refuses_the_switches_of_a_run(flag):
    _, parser = build_parser("photo")
    with pytest.raises(EdgeError, match=f"unrecognized arguments: {flag}"):
        parser.parse_args(["me.jpg", flag])


def test_null_clears_only_text_fields_that_may_be_empty():
    """`--video null` turns the video off; an output folder or web host cannot be empty, so there it is a name."""
    cfg = run_config("--out", "null", "--web.host", "~", "--video", "null", "--store.path", "~")
    assert cfg.output.dir == Path("null") and cfg.web.host == "~"
    assert cfg.output.video is None and cfg.store.path is None


@pytest.fixture
def restored_levels():
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in QUIET_LOGGERS)]
    levels = [logger.level for logger in loggers]
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def test_the_web_request_log_is_quiet_unless_debugging(restored_levels):
    assert QUIET_LOGGERS  # the web view logs one INFO line per request through werkzeug
    requests = logging.getLogger("werkzeug")
    requests.setLevel(logging.NOTSET)
    apply_log_level("debug")
    assert logging.getLogger().level == logging.DEBUG and requests.getEffectiveLevel() == logging.DEBUG
    apply_log_level("info")
    assert logging.getLogger().level == logging.INFO
    assert not requests.isEnabledFor(logging.INFO) and requests.isEnabledFor(logging.WARNING)
