"""A Ctrl-C while a command's own modules import (numpy, OpenCV, pydantic, the runtime: about 0.7 s) or its models
load ends it with one line on stderr, exit code 130, no traceback: `python -m edge` (edge.__main__) and
`python -m convert` (convert.__main__, convert.evaluate, and convert.errors.run_cli for a Ctrl-C later) alike.

Standard library only, so it is importable before everything it guards."""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C (train.stopping.stop_exit_code)
NOT_FINISHED = "the command did not finish; run it again"  # after the cause: `interrupted: ...`


def interrupted() -> int:
    """Say that the command was interrupted before it did anything; its exit code."""
    print(f"interrupted: {NOT_FINISHED}", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED
