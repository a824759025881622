"""Command registry: `python -m edge [run options]`, `python -m edge photo IMG`, ...

A command is a module (imported only when chosen) defining
    HELP: str
    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int           (raise edge.errors.EdgeError for user errors)
To add one (e.g. `report`), add a line to COMMANDS.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
from collections.abc import Sequence
from types import ModuleType

from edge.cli_common import OneLineParser

COMMANDS: dict[str, str] = {
    "run": "edge.commands.run",
    "photo": "edge.commands.photo",
    "service": "edge.service.command",
    "report": "edge.commands.report",
}
DEFAULT_COMMAND = "run"


def split_command(argv: Sequence[str]) -> tuple[str, list[str]]:
    """First argument names a command if it is one; otherwise the default `run`."""
    argv = list(argv)
    if argv and argv[0] in COMMANDS:
        return argv[0], argv[1:]
    return DEFAULT_COMMAND, argv


def build_parser(name: str) -> tuple[ModuleType, OneLineParser]:
    module = importlib.import_module(COMMANDS[name])
    others = ", ".join(f"`python -m edge {c}`" for c in COMMANDS if c != DEFAULT_COMMAND)
    prog = "python -m edge" if name == DEFAULT_COMMAND else f"python -m edge {name}"
    epilog = f"other commands: {others} (each with --help)" if name == DEFAULT_COMMAND else None
    usage = "%(prog)s [options]" if name == DEFAULT_COMMAND else None  # the full flag list is in --help
    parser = OneLineParser(prog=prog, usage=usage, allow_abbrev=False, description=module.HELP, epilog=epilog)
    module.add_arguments(parser)
    return module, parser


def did_you_mean(extras: Sequence[str]) -> str:
    """` (did you mean: photo?)` when the first word the default command did not take is close to a command's name
    (`python -m edge fotos x.jpg`); ` (the command goes first: python -m edge service ...)` when it is one
    (`python -m edge --headless service`); else nothing."""
    word = extras[0] if extras and not extras[0].startswith("-") else ""
    if word in COMMANDS:
        return f" (the command goes first: python -m edge {word} ...)"
    matches = difflib.get_close_matches(word, COMMANDS, n=1) if word else []
    return f" (did you mean: {matches[0]}?)" if matches else ""


def parse_default_command(parser: OneLineParser, rest: Sequence[str]) -> argparse.Namespace:
    """parse_args, whose `unrecognized arguments` error also suggests the command a mistyped word is close to."""
    args, extras = parser.parse_known_args(rest)
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}{did_you_mean(extras)}")
    return args


def dispatch(argv: Sequence[str]) -> int:
    name, rest = split_command(argv)
    module, parser = build_parser(name)
    args = parse_default_command(parser, rest) if name == DEFAULT_COMMAND else parser.parse_args(rest)
    return int(module.run(args) or 0)
