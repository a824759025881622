"""CLI flags shared by commands: --config, short aliases, and one dotted flag per config value."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from edge.config import RunConfig, leaf_fields, load_config, parse_scalar

OVERRIDE_PREFIX = "set:"
# short alias -> dotted config key
ALIASES: dict[str, tuple[str, str]] = {
    "--source": ("source.uri", "camera index, /dev/videoN, file, folder, URL, 'demo' or 'picamera2' (default: camera 0, else demo)"),
    "--detector": ("detector.type", "auto | haar | mediapipe"),
    "--model": ("classifier.model", "emotion model .tflite (sidecar .json next to it)"),
    "--threads": ("classifier.num_threads", "LiteRT threads"),
    "--out": ("output.dir", "output folder for events.jsonl etc. (default ./out)"),
    "--interval": ("output.interval_s", "seconds between events per face (0 = every frame)"),
    "--window": ("output.window", "auto | on | off"),
    "--video": ("output.video", "write an annotated video here (mp4v)"),
    "--max-frames": ("max_frames", "stop after N frames"),
    "--duration": ("duration", "stop after S seconds"),
    "--every": ("detector.every", "detect every N frames, track in between"),
    "--log-level": ("log_level", "debug | info | warning | error"),
}
SWITCHES: dict[str, tuple[str, Any, str]] = {
    "--headless": ("output.window", "off", "never open a window"),
    "--loop": ("source.loop", True, "loop files, folders and the demo"),
    "--save-crops": ("output.save_crops", True, "also save face crops (off by default)"),
    "--no-smoothing": ("smoothing.enabled", False, "show raw per-frame predictions"),
}


def add_config_arguments(parser: argparse.ArgumentParser, aliases: bool = True) -> None:
    parser.add_argument("--config", type=Path, help="YAML config file (keys as in edge/config.py)")
    if aliases:
        group = parser.add_argument_group("common options")
        for flag, (dotted, text) in ALIASES.items():
            group.add_argument(flag, dest=OVERRIDE_PREFIX + dotted, metavar="VALUE", help=text, default=argparse.SUPPRESS)
        for flag, (dotted, value, text) in SWITCHES.items():
            group.add_argument(flag, dest=OVERRIDE_PREFIX + dotted, action="store_const", const=value, help=text,
                               default=argparse.SUPPRESS)
    every = parser.add_argument_group("every config value", "--<section>.<key> VALUE overrides the YAML file")
    for dotted, info in leaf_fields(RunConfig):
        if aliases and f"--{dotted.replace('_', '-')}" in ALIASES:
            continue
        every.add_argument(f"--{dotted}", dest=OVERRIDE_PREFIX + dotted, metavar="VALUE", default=argparse.SUPPRESS,
                           help=info.description or f"default: {info.default}")


YAML_BOOLEAN_WORDS = ("true", "false")


def cli_value(text: str) -> Any:
    """parse_scalar, except that YAML 1.1's on/off/yes/no stay text: `--headless` sets output.window to the
    string "off", not False (pydantic still reads those words as booleans for boolean fields)."""
    value = parse_scalar(text)
    return text if isinstance(value, bool) and text.strip().lower() not in YAML_BOOLEAN_WORDS else value


def config_from_args(args: argparse.Namespace) -> RunConfig:
    overrides = {}
    for key, value in vars(args).items():
        if key.startswith(OVERRIDE_PREFIX):
            overrides[key[len(OVERRIDE_PREFIX):]] = cli_value(value) if isinstance(value, str) else value
    return load_config(args.config, overrides)


def explicit_keys(args: argparse.Namespace) -> set[str]:
    return {k[len(OVERRIDE_PREFIX):] for k in vars(args) if k.startswith(OVERRIDE_PREFIX)}
