"""werkzeug's threaded WSGI server in a daemon thread, plus the sink that feeds it from the pipeline."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, get_sockaddr, select_address_family

from edge.config import RunConfig
from edge.errors import EdgeError, TransientError
from edge.sinks.base import BaseSink
from edge.types import FrameResult
from edge.web.app import create_app
from edge.web.config import WebConfig
from edge.web.photo import PhotoService
from edge.web.rejections import RejectionLog
from edge.web.state import WebState
from edge.web.stream import StreamEncoder

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.5
JOIN_TIMEOUT_S = 5.0
LISTEN_BACKLOG = 128  # werkzeug's own queue size
TRANSIENT_BIND_ERRORS = (errno.EADDRINUSE,)  # another process (an old instance?) holds the port: retrying can help
# A client silent this long on one socket read or write is dropped: a connection that never finishes its request
# (slowloris) or a stream viewer that stopped reading would otherwise hold a thread (and a stream slot) for ever.
SOCKET_TIMEOUT_S = 30.0
# Each connection holds a thread until it ends (at most SOCKET_TIMEOUT_S idle): past this many at once a new one is
# answered 503 and closed at once, so a flood of connections cannot exhaust a Pi's memory or threads.
MAX_CONNECTIONS = 64  # browsers keep a few idle HTTP/1.1 connections each: room for about 30 viewers
BUSY_BODY = b"too many connections; retry"
BUSY_REPLY = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(BUSY_BODY), BUSY_BODY))
BUSY_REPLY_TIMEOUT_S = 1.0


class CappedServer(ThreadedWSGIServer):
    """werkzeug's thread-per-connection server with at most `max_connections` connections served at once;
    `housekeeping` runs on the serving thread between connections, at least every POLL_INTERVAL_S."""

    def __init__(self, *args, max_connections: int = MAX_CONNECTIONS,
                 housekeeping: Callable[[], None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(max_connections)
        self.max_connections = max_connections
        self.refused = 0
        self._housekeeping = housekeeping

    def service_actions(self) -> None:
        super().service_actions()
        if self._housekeeping is not None:
            self._housekeeping()

    def process_request(self, request, client_address) -> None:  # noqa: ANN001 - socketserver's signature
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            if self.refused == 1:
                log.warning("web: %d connections at once; answering 503 to new ones until some end",
                            self.max_connections)
            try:
                request.settimeout(BUSY_REPLY_TIMEOUT_S)
                request.sendall(BUSY_REPLY)
            except OSError:
                pass  # the client is gone already
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: give the slot back here
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:  # noqa: ANN001
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def request_handler(timeout_s: float) -> type[WSGIRequestHandler]:
    return type("TimedRequestHandler", (WSGIRequestHandler,), {"timeout": timeout_s})


def display_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 - only for display
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket listening on host:port. Bound here, not by werkzeug, which prints to stderr and exits(1) on a bind
    error, losing the reason: a busy port is a TransientError (exit 1, restarted), anything else an EdgeError."""
    family = select_address_family(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(get_sockaddr(host, port, family))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        problem = f"cannot listen ({exc.strerror or exc or 'address unavailable'})"
        if exc.errno in TRANSIENT_BIND_ERRORS:
            raise TransientError(f"web {host}:{port}", f"{problem}; is another instance running?") from None
        raise EdgeError(f"web {host}:{port}", problem) from None
    return sock


class WebServer:
    """Binds at construction (bind errors are one EdgeError), serves after start() until close()."""

    def __init__(self, app, host: str, port: int, socket_timeout_s: float = SOCKET_TIMEOUT_S,
                 max_connections: int = MAX_CONNECTIONS, housekeeping: Callable[[], None] | None = None) -> None:
        sock = listen_socket(host, port)
        try:
            self._server = CappedServer(host, port, app, request_handler(socket_timeout_s),
                                        fd=sock.fileno(),  # werkzeug dups the fd
                                        max_connections=max_connections, housekeeping=housekeeping)
        except (OSError, SystemExit) as exc:
            problem = getattr(exc, "strerror", None) or str(exc) or "address unavailable"
            raise EdgeError(f"web {host}:{port}", f"cannot listen ({problem})") from None
        finally:
            sock.close()
        self._server.daemon_threads = True
        self.host, self.port = host, int(self._server.port)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(POLL_INTERVAL_S,),
                                        name="edge-web", daemon=True)

    @property
    def url(self) -> str:
        return display_url(self.host, self.port)

    @property
    def refused(self) -> int:
        """Connections answered 503 because MAX_CONNECTIONS were being served."""
        return self._server.refused

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(JOIN_TIMEOUT_S)
        self._server.server_close()


class WebSink(BaseSink):
    """Keeps the newest result and statistics for the web view; the pipeline thread only stores and counts."""

    shows_live = True

    def __init__(self, cfg: RunConfig, web: WebConfig) -> None:
        self.state = WebState(web.stats_window_s, web.stats_bucket_s)
        self.photos = PhotoService(cfg)
        self.rejections = RejectionLog()  # its summaries are logged by the server's serving thread
        encoder = StreamEncoder(self.state, web.stream_fps, web.jpeg_quality)
        app = create_app(self.state, encoder, self.photos, web.token, web.max_upload_mb, self.rejections)
        self.server = WebServer(app, web.host, web.port, housekeeping=self.rejections.flush)
        self.server.start()
        log.info("web view at %s (listening on %s port %d%s)", self.server.url, web.host, self.server.port,
                 ", token required" if web.token else "")

    @property
    def url(self) -> str:
        return self.server.url

    def write(self, result: FrameResult) -> None:
        self.state.update(result)

    def waiting(self, why: str) -> None:
        self.state.wait_for(why)

    def describe(self) -> str:
        return f"web view was at {self.server.url}"

    def close(self) -> None:
        self.state.close()  # ends the streams first, so shutdown does not wait on them
        self.server.close()
        self.rejections.close()  # counts not yet logged
        self.photos.close()
