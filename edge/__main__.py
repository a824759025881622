"""Entry point: `python -m edge ...`. The one place this command sets up logging (edge.cli_common.setup_logging:
stdout, unbuffered, for journald); commands only apply the configured level (edge.commands.options.apply_log_level).

A Ctrl-C before a run has started (while the command's modules import, numpy, OpenCV, pydantic, ..., or while the
models load) ends the command with one line on stderr, `interrupted: the command did not finish; run it again`, and
exit code 130, as `python -m convert` does; no traceback. Once a run has started its own handler takes over
(edge.commands.run.install_signal_handlers): the run stops after the current frame and exits 0.

Run by a Python without the edge requirements (a system `python3`), a third-party module it cannot find is one line
too, `error: cv2: not installed in this environment (/usr/bin/python3); run .venv-edge/bin/python -m edge ...`, exit
code 2; a missing edge module, or a module that is installed but fails inside, stays a traceback (a bug)."""

from __future__ import annotations

import sys

from edge.interrupts import EXIT_INTERRUPTED, interrupted  # standard library only: before everything it guards

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a writer whose reader left (`| head`)

try:  # small, but `python -m edge` runs them first: a Ctrl-C meanwhile is one line too
    import logging
    from collections.abc import Sequence

    from edge.cli_common import error_line, setup_logging, silence_stdout
    from edge.errors import EdgeError
    from edge.requirements_check import missing_requirement
except KeyboardInterrupt:
    sys.exit(interrupted())

def print_error(exc: EdgeError) -> int:
    """The error's one line on stderr; its exit code."""
    logging.shutdown()
    print(error_line(exc.one_line()), file=sys.stderr, flush=True)
    return exc.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        setup_logging()
        from edge.cli import dispatch  # the chosen command's modules import inside dispatch

        return dispatch(sys.argv[1:] if argv is None else argv)
    except EdgeError as exc:
        return print_error(exc)
    except ModuleNotFoundError as exc:  # run by a Python without requirements-edge.txt (a system python3)
        error = missing_requirement(exc)
        if error is None:
            raise
        return print_error(error)
    except KeyboardInterrupt:  # before a run's own handler is installed (modules importing, models loading)
        logging.shutdown()
        return interrupted()
    except BrokenPipeError:  # stdout's reader stopped early (`report | head`): not an error worth a traceback
        silence_stdout()  # so the exit flush fails no more
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
