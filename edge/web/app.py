"""The Flask app: two pages, the MJPEG stream, JSON endpoints. No request path ever reaches the file system:
static assets are a fixed set read once at start, templates have fixed names, uploads stay in memory."""

from __future__ import annotations

import logging
from importlib import resources

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import (BadRequest, HTTPException, InternalServerError, NotFound, RequestEntityTooLarge,
                                 ServiceUnavailable)
from werkzeug.wsgi import ClosingIterator

from edge.errors import EdgeError
from edge.sinks.overlay import LABEL_COLOURS, hex_colour
from edge.web import auth
from edge.web.photo import PhotoService
from edge.web.rejections import RejectionLog
from edge.web.state import WebState
from edge.web.stream import MIMETYPE, StreamEncoder

log = logging.getLogger(__name__)

ASSETS = {"app.css": "text/css", "chart.js": "text/javascript", "live.js": "text/javascript",
          "photo.js": "text/javascript"}
UPLOAD_FIELD = "photo"
MB = 1024 * 1024
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'",
}


def load_assets() -> dict[str, bytes]:
    folder = resources.files("edge.web") / "static"
    return {name: (folder / name).read_bytes() for name in ASSETS}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def create_app(state: WebState, encoder: StreamEncoder, photos: PhotoService, token: str | None,
               max_upload_mb: float, rejections: RejectionLog | None = None) -> Flask:
    """`rejections` logs refused requests rate-limited; its owner calls its flush() now and then (WebServer does)."""
    app = Flask(__name__, static_folder=None)
    app.config.update(MAX_CONTENT_LENGTH=int(max_upload_mb * MB))
    app.json.sort_keys = False  # keep label order as in the model contract
    assets = load_assets()
    colours = {name: hex_colour(bgr) for name, bgr in LABEL_COLOURS.items()}
    auth.install(app, token, rejections or RejectionLog())

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, RequestEntityTooLarge) and exc.description == RequestEntityTooLarge.description:
            exc = RequestEntityTooLarge(f"upload larger than {max_upload_mb:g} MB")
        if wants_json():
            return jsonify(error=exc.name, message=exc.description), exc.code
        return Response(f"{exc.code} {exc.name}: {exc.description}\n", exc.code, mimetype="text/plain")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("web request %s %s failed", request.method, request.path)
        return http_error(InternalServerError("internal error (see the edge log)"))

    @app.get("/")
    def index():
        return render_template("index.html", page="live", colours=colours, max_upload_mb=max_upload_mb)

    @app.get("/photo")
    def photo_page():
        return render_template("photo.html", page="photo", colours=colours, max_upload_mb=max_upload_mb)

    @app.get("/static/<name>")
    def asset(name: str):
        if name not in assets:
            raise NotFound("no such asset")
        return Response(assets[name], mimetype=ASSETS[name], headers={"Cache-Control": "max-age=300"})

    @app.get("/stream.mjpg")
    def stream():
        slot = encoder.try_acquire()
        if slot is None:
            raise ServiceUnavailable("too many stream viewers; try again later")
        if request.method == "HEAD":  # the headers alone: no slot is held, so none can be left behind (werkzeug
            slot.release()  # skips closing the body of a HEAD whose client reset the connection)
            return Response(mimetype=MIMETYPE)
        # Closing the response gives the slot back also when the stream never starts; the stream's own end
        # releases it too (once).
        return Response(ClosingIterator(encoder.frames(slot), slot.release), mimetype=MIMETYPE,
                        direct_passthrough=True)

    @app.get("/api/state")
    def api_state():
        return jsonify(state.snapshot())

    @app.get("/api/health")
    def api_health():
        body, healthy = state.health()
        return jsonify(body), 200 if healthy else 503

    @app.post("/api/photo")
    def api_photo():
        upload = request.files.get(UPLOAD_FIELD)
        if upload is None:
            raise BadRequest(f"no file: send multipart/form-data with a '{UPLOAD_FIELD}' field")
        try:
            return jsonify(photos.analyse(upload.read()))
        except EdgeError as exc:
            log.warning("photo upload: %s", exc.one_line())
            raise ServiceUnavailable(f"classifier unavailable ({exc.problem})") from None

    return app

