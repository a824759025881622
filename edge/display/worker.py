"""The display worker process: receives FrameResults, composes the screen image, shows it.

A separate process because a window toolkit may end its process when the display goes away (Qt exits when the
X connection breaks); the pipeline and its event logging live on in the parent (edge.display.sink).
Protocol on the pipe, child -> parent: ("ready", (w, h) | None, name), ("shown",), ("lost", reason), and for the
overlay window of a run (`viewer`) ("closed", reason) when the person watching ends it;
parent -> child: a FrameResult per frame (only after the previous one was shown), None to finish.
"""

from __future__ import annotations

import signal
from multiprocessing.connection import Connection

from edge.display.config import DisplayConfig

# Stops come from the parent (None on the pipe, or its exit closing the pipe); Ctrl+C and systemd's SIGTERM to the
# whole process group must not take the display down before the pipeline has flushed its logs. The parent starts
# the worker with these blocked (edge.display.sink.DisplaySink._start), so that one sent while the worker starts up
# waits until worker_main ignores it, instead of ending the worker's imports with a KeyboardInterrupt traceback.
IGNORED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _send(conn: Connection, message: tuple) -> None:
    try:
        conn.send(message)
    except OSError:
        pass  # the parent is gone


def worker_main(conn: Connection, cfg_data: dict, viewer: bool = False) -> None:
    for signum in IGNORED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, IGNORED_SIGNALS)  # any that came meanwhile: discarded
    from edge.display.compose import compose
    from edge.display.screens import DisplayLost, ViewerClosed, make_screen

    cfg = DisplayConfig.model_validate(cfg_data)
    screen = make_screen(cfg, viewer)
    try:
        size = screen.open()
        _send(conn, ("ready", size, screen.name))
        while True:
            result = conn.recv()
            if result is None:
                break
            screen.show(compose(result, size, cfg.overlay_scale))
            conn.send(("shown",))
    except DisplayLost as exc:
        _send(conn, ("lost", str(exc)))
    except ViewerClosed as exc:
        _send(conn, ("closed", str(exc)))
    except (EOFError, OSError):
        pass  # the parent is gone or closed the pipe
    except Exception as exc:  # noqa: BLE001 - whatever breaks the display is reported, never raised into logging
        _send(conn, ("lost", f"{type(exc).__name__}: {exc}"))
    finally:
        screen.close()
        conn.close()
