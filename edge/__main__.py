"""Entry point: `python -m edge ...`. The one place this command sets up logging (edge.cli_common.setup_logging:
stdout, unbuffered, for journald); commands only apply the configured level (edge.commands.options.apply_log_level)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from edge.cli_common import error_line, setup_logging, silence_stdout
from edge.errors import EdgeError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer whose reader left (`| head`)


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging()
    from edge.cli import dispatch

    try:
        return dispatch(sys.argv[1:] if argv is None else argv)
    except EdgeError as exc:
        logging.shutdown()
        print(error_line(exc.one_line()), file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C before the run's own handler is installed (e.g. while models load)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout's reader stopped early (`report | head`): not an error worth a traceback
        silence_stdout()  # so the exit flush fails no more
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
