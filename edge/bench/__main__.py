"""Entry point: `python -m edge.bench [options]`. A Ctrl-C, also while the modules import, ends it with one line on
stderr and exit code 130 (edge.interrupts), as `python -m edge` does."""

import sys

from edge.interrupts import interrupted  # standard library only: before everything it guards

try:  # numpy, OpenCV, pydantic: about 0.7 s
    from edge.bench.cli import main
except KeyboardInterrupt:
    sys.exit(interrupted())

if __name__ == "__main__":
    sys.exit(main())
