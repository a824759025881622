"""A third-party module this Python does not have, as one line instead of a traceback: `python3 -m edge` (or
edge.bench, edge.fetch_detector) run by a Python without requirements-edge.txt, a system `python3`. Standard
library and edge.errors only, so it is importable before everything it guards."""

from __future__ import annotations

import importlib.util
import sys

from edge.errors import EdgeError
from edge.no_tensorflow import BLOCKED_TOP_LEVEL, MEDIAPIPE_BLOCKED

EDGE_PACKAGE = "edge"
REFUSED_MODULES = (*BLOCKED_TOP_LEVEL, *MEDIAPIPE_BLOCKED)  # never imported by the edge: one escaping is a bug
SETUP_HINT = ("run .venv-edge/bin/python -m edge (bash scripts/demo.sh makes it) "
              "or pip install -r requirements-edge.txt")


def is_findable(name: str) -> bool | None:
    """Whether `import name` would find a top-level module (find_spec only looks it up); None when the lookup
    itself fails."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module in sys.modules without a spec
        return None


def missing_requirement(exc: ModuleNotFoundError) -> EdgeError | None:
    """The one-line error for a third-party module this Python does not have; None for an edge module or a module
    that is there (the failure is inside it) or one the edge refuses to import (edge.no_tensorflow): those are
    bugs, whose traceback stays."""
    top = (exc.name or "").partition(".")[0]
    if not top or top == EDGE_PACKAGE or top in REFUSED_MODULES or is_findable(top) is not False:
        return None
    return EdgeError(exc.name, f"not installed in this environment ({sys.executable}); {SETUP_HINT}")


def exit_if_missing_requirement(exc: ModuleNotFoundError) -> None:
    """For a command's own imports: exit 2 with the one line if `exc` is a missing requirement; else return (the
    caller re-raises: a bug keeps its traceback)."""
    error = missing_requirement(exc)
    if error is not None:
        print(error.one_line(), file=sys.stderr, flush=True)
        sys.exit(error.exit_code)
