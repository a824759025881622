"""`--help` of every edge command lists each flag spelling once: a short alias gets its underscore spelling
(--log-level, --log_level) only when that differs (--duration has none)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from edge.cli import COMMANDS, build_parser
from tests.edge.helpers import REPO, edge_env

HELP_TIMEOUT_S = 60
SPELLINGS = re.compile(r"^\s+(--[\w.-]+)(?: VALUE)?((?:, --[\w.-]+(?: VALUE)?)*)", re.MULTILINE)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_flag_is_spelled_twice_in_one_option(command: str) -> None:
    _, parser = build_parser(command)
    for action in parser._actions:  # noqa: SLF001 - argparse keeps no public list of its options
        assert len(set(action.option_strings)) == len(action.option_strings), action.option_strings


def test_aliases_keep_their_underscore_spelling_only_when_it_differs() -> None:
    _, parser = build_parser("run")
    spellings = {action.dest: action.option_strings for action in parser._actions}  # noqa: SLF001
    by_flag = {strings[0]: strings for strings in spellings.values() if strings}
    assert by_flag["--duration"] == ["--duration"]
    assert by_flag["--log-level"] == ["--log-level", "--log_level"]
    assert by_flag["--max-frames"] == ["--max-frames", "--max_frames"]


def test_help_output_lists_duration_once() -> None:
    done = subprocess.run([sys.executable, "-m", "edge", "--help"], cwd=REPO, env=edge_env(), capture_output=True,
                          text=True, timeout=HELP_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    options = SPELLINGS.findall(done.stdout)
    assert options, done.stdout
    for first, others in options:
        names = [first, *(part.split()[0] for part in others.split(", ") if part)]
        assert len(set(names)) == len(names), f"{first}{others}"
    assert "--duration VALUE, --duration" not in done.stdout
    assert "--log-level VALUE, --log_level VALUE" in done.stdout
