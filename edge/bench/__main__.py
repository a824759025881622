"""Entry point: `python -m edge.bench [options]`."""

import sys

from edge.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
