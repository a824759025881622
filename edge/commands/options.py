"""CLI flags shared by commands: --config, short aliases, and one dotted flag per config value."""

from __future__ import annotations

import argparse
import logging
from functools import cache
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin

from pydantic import TypeAdapter, ValidationError

from edge.cli_common import USAGE_THING, path_argument
from edge.config import RunConfig, leaf_fields, load_config, parse_scalar
from edge.config_model import member_types
from edge.errors import EdgeError

OVERRIDE_PREFIX = "set:"
SWITCH_PREFIX = "switch:"  # a switch's own dest, so that a flag setting the same key differently is caught
GIVEN_PREFIX = "given:"  # the spelling that set a key (`--max_frames`), for an error that names the flag
DEBUG_LEVEL = "debug"
QUIET_LOGGERS = ("werkzeug",)  # one INFO line per HTTP request (the web view's stream and page poll)
# short alias -> dotted config key
ALIASES: dict[str, tuple[str, str]] = {
    "--source": ("source.uri", "camera index, /dev/videoN, file, folder, URL, 'demo' or 'picamera2' (default: camera 0, else demo)"),
    "--detector": ("detector.type", "auto | haar | mediapipe"),
    "--model": ("classifier.model", "emotion model .tflite (sidecar .json next to it)"),
    "--threads": ("classifier.num_threads", "LiteRT threads"),
    "--out": ("output.dir", "output folder for events.jsonl etc. (default ./out)"),
    "--interval": ("output.interval_s", "seconds between events per face (0 = every frame)"),
    "--window": ("output.window", "auto | on | off"),
    "--video": ("output.video", "write an annotated video here (mp4v in .mp4, .m4v, .mov, .avi or .mkv)"),
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


class Override(argparse.Action):
    """`--<key> VALUE`: the value as typed (dest OVERRIDE_PREFIX + key), and the spelling used (GIVEN_PREFIX + key)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, GIVEN_PREFIX + self.dest.removeprefix(OVERRIDE_PREFIX), option_string)


def add_config_arguments(parser: argparse.ArgumentParser, aliases: bool | tuple[str, ...] = True,
                         only: tuple[str, ...] | None = None, helps: Mapping[str, str] | None = None,
                         skip: tuple[str, ...] = ()) -> None:
    """--config, the short aliases, and one dotted flag per config value (`only`: just these sections,
    e.g. ("detector", "classifier", "log_level"), for a command that uses no other part of the config; `skip`:
    dotted keys of those sections that mean nothing to the command, e.g. "detector.every" for one photo; `aliases`:
    all of them with the switches, or just these alias flags, so a flag is spelled alike in every command; `helps`:
    dotted key (or switch flag) -> help text, where a command treats a key otherwise than the run command does)."""
    helps = helps or {}
    parser.add_argument("--config", type=path_argument, help="YAML config file (keys as in edge/config.py)")
    chosen = [flag for flag in ALIASES if aliases is True or (aliases and flag in aliases)]
    if chosen:
        group = parser.add_argument_group("common options")
        for flag in chosen:
            dotted, text = ALIASES[flag]
            underscored = f"--{dotted}"  # --log_level next to --log-level; none for --duration (no underscore)
            alias = flag == f"--{dotted.replace('_', '-')}" and underscored != flag
            spellings = [flag, underscored] if alias else [flag]
            group.add_argument(*spellings, dest=OVERRIDE_PREFIX + dotted, metavar="VALUE",
                               help=helps.get(dotted, text), default=argparse.SUPPRESS, action=Override)
        for flag, (dotted, value, text) in SWITCHES.items() if aliases is True else ():
            group.add_argument(flag, dest=SWITCH_PREFIX + flag, action="store_const", const=value,
                               help=helps.get(flag, helps.get(dotted, text)), default=argparse.SUPPRESS)
    every = parser.add_argument_group("every config value", "--<section>.<key> VALUE overrides the YAML file")
    for dotted, info in leaf_fields(RunConfig):
        if f"--{dotted.replace('_', '-')}" in chosen:
            continue
        if (only is not None and dotted.split(".")[0] not in only) or dotted in skip:
            continue
        every.add_argument(f"--{dotted}", dest=OVERRIDE_PREFIX + dotted, metavar="VALUE", default=argparse.SUPPRESS,
                           help=helps.get(dotted, info.description or f"default: {info.default}"), action=Override)


YAML_BOOLEAN_WORDS = ("true", "false")
YAML_NULL_WORDS = ("null", "Null", "NULL", "~")  # the text fields that may be None take these as None
TEXT_TYPES = (str, Path)


def _is_text(kind: Any) -> bool:
    return kind in TEXT_TYPES or (get_origin(kind) is Literal and all(isinstance(v, str) for v in get_args(kind)))


def text_field(annotation: Any) -> tuple[bool, bool]:
    """(is text, may be None) of a config field: text = str, Path or a Literal of strings, optionally `| None`."""
    members = member_types(annotation)
    values = [m for m in members if m is not type(None)]
    return bool(values) and all(_is_text(m) for m in values), len(values) < len(members)


@cache
def text_keys() -> dict[str, bool]:
    """Dotted keys of the text fields -> whether they may be None."""
    out = {}
    for dotted, info in leaf_fields(RunConfig):
        is_text, nullable = text_field(info.annotation)
        if is_text:
            out[dotted] = nullable
    return out


def cli_value(text: str, dotted: str | None = None) -> Any:
    """The value of `--<dotted> TEXT`. Text fields (str, Path, choices) get the text as typed: `--web.token
    12345678`, `--out 2024` and `--source.uri 007` stay strings (`null` still clears an optional one). Other
    fields read TEXT as a YAML scalar, except that YAML 1.1's on/off/yes/no stay text (pydantic still reads those
    words as booleans for boolean fields)."""
    keys = text_keys()
    if dotted in keys:
        return None if keys[dotted] and text.strip() in YAML_NULL_WORDS else text
    value = parse_scalar(text)
    return text if isinstance(value, bool) and text.strip().lower() not in YAML_BOOLEAN_WORDS else value


def sets_the_same(given: Any, switched: Any) -> bool:
    """Whether a `--<dotted> VALUE` sets what a switch does: `--loop --source.loop yes` agree, since cli_value keeps
    YAML 1.1's yes/no/on/off as text for pydantic to read as booleans."""
    if isinstance(switched, bool) and isinstance(given, str):
        try:
            return TypeAdapter(bool).validate_python(given) is switched
        except ValidationError:
            return False
    return given == switched


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The config file plus the flags; a switch and a flag that set one key to different values (`--headless
    --window on`) are a usage error, not a silent last-one-wins. A bad value from a flag is named by the flag."""
    overrides, given = {}, {}
    for key, value in vars(args).items():
        if key.startswith(OVERRIDE_PREFIX):
            dotted = key[len(OVERRIDE_PREFIX):]
            overrides[dotted] = cli_value(value, dotted) if isinstance(value, str) else value
            shown = value if value != "" else "''"  # an empty value, visible as such
            given[dotted] = f"{getattr(args, GIVEN_PREFIX + dotted, None) or f'--{dotted}'} {shown}"
    for key, value in vars(args).items():
        if key.startswith(SWITCH_PREFIX):
            flag = key[len(SWITCH_PREFIX):]
            dotted = SWITCHES[flag][0]
            if dotted in overrides and not sets_the_same(overrides[dotted], value):
                raise EdgeError(USAGE_THING, f"{flag} contradicts --{dotted} {overrides[dotted]} (or its short form); "
                                             "give one of them")
            overrides[dotted] = value
            given[dotted] = flag
    return load_config(args.config, overrides, given)


def apply_log_level(level: str) -> None:
    """The configured `log_level` on the root logger (edge/__main__.py sets up the handler); per-request
    loggers of libraries stay at warnings unless the level is debug."""
    logging.getLogger().setLevel(level.upper())
    if level.lower() != DEBUG_LEVEL:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
