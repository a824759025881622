"""Entry point: `python -m edge ...`. The one place logging is configured (stdout, unbuffered, for journald)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from edge.errors import EdgeError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO) -> None:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    handler = logging.StreamHandler(sys.stdout)  # flushes after every record
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging()
    from edge.cli import dispatch

    try:
        return dispatch(sys.argv[1:] if argv is None else argv)
    except EdgeError as exc:
        logging.shutdown()
        print(exc.one_line(), file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
