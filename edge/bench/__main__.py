"""Entry point: `python -m edge.bench [options]`. A Ctrl-C, also while the modules import, ends it with one line on
stderr and exit code 130 (edge.interrupts), as `python -m edge` does; so does a Python without the edge requirements
(edge.requirements_check), with exit code 2."""

import sys

from edge.interrupts import interrupted  # standard library only: before everything it guards
from edge.requirements_check import exit_if_missing_requirement

try:  # numpy, OpenCV, pydantic: about 0.7 s
    from edge.bench.cli import main
except KeyboardInterrupt:
    sys.exit(interrupted())
except ModuleNotFoundError as exc:  # a system python3: one line; a bug keeps its traceback
    exit_if_missing_requirement(exc)
    raise

if __name__ == "__main__":
    sys.exit(main())
