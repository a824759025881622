"""Access control: tokenless only on loopback; with a token, every request (stream and health included) needs it.

Tokenless, a request must also name a loopback host in its Host header: otherwise any web page open in a browser
on this machine could rebind its own domain to 127.0.0.1 ("DNS rebinding") and read the camera stream.

The token comes as `Authorization: Bearer <token>`, `X-Edge-Token: <token>`, or once as `?token=<token>`, which sets
an HttpOnly cookie (holding a digest of the token, not the token) and, for pages, redirects to the bare URL.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, g, redirect, request
from werkzeug.exceptions import Forbidden, Unauthorized

from edge.errors import EdgeError
from edge.web.config import MIN_TOKEN_LENGTH, TOKEN_ENV, WebConfig
from edge.web.rejections import RejectionLog

TOKENLESS_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})  # the only binds served without a token
COOKIE = "edge_web"
HEADER = "X-Edge-Token"
BEARER_PREFIX = "bearer "  # Authorization: Bearer <token> (the scheme name is case-insensitive)
QUERY = "token"
PAGES = ("/", "/photo")
NOT_LOOPBACK = "Host not a loopback name"  # rejection reasons, as the rate-limited log names them
NO_TOKEN = "wrong or missing token"
COOKIE_MAX_AGE_S = 30 * 24 * 3600


def token_required(host: str) -> bool:
    """Anything but the loopback names above (0.0.0.0, a LAN address, even 127.0.0.2) needs a token."""
    return host.strip("[]").lower() not in TOKENLESS_HOSTS


def check_settings(web: WebConfig) -> None:
    """One EdgeError when the settings would expose the view without (or with a trivial) token."""
    if web.token is not None and len(web.token) < MIN_TOKEN_LENGTH:
        raise EdgeError("web token", f"too short (at least {MIN_TOKEN_LENGTH} characters)")
    if web.token is None and token_required(web.host):
        raise EdgeError(f"web {web.host}", f"binding beyond loopback needs an access token: set web.token, "
                                           f"--web-token or ${TOKEN_ENV}")


def cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"edge-web-cookie", hashlib.sha256).hexdigest()


def _matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _presented_token() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith(BEARER_PREFIX):
        return auth[len(BEARER_PREFIX):].strip()
    return request.headers.get(HEADER)


def host_name(header: str) -> str:
    """The name in a Host header, without port or brackets: `[::1]:8080` -> `::1`, `localhost:80` -> `localhost`."""
    if header.startswith("[") and "]" in header:
        return header[1:header.index("]")].lower()
    return (header.rsplit(":", 1)[0] if header.count(":") == 1 else header).lower()


def install(app: Flask, token: str | None, rejections: RejectionLog) -> None:
    """Register the checks: the loopback Host check without a token, the token check with one. Rejections are
    logged through `rejections` (the first of a kind, then a count at most once a minute)."""
    if token is None:
        install_loopback_check(app, rejections)
    else:
        install_token_check(app, token, rejections)


def install_loopback_check(app: Flask, rejections: RejectionLog) -> None:
    @app.before_request
    def require_loopback_host() -> None:
        if host_name(request.host) not in TOKENLESS_HOSTS:
            # One kind for all Hosts: a cut connection's half-sent Host header ('127.0.0') differs every time.
            rejections.rejected(NOT_LOOPBACK, None, "rejected %s %s for Host %r: not a loopback name",
                                request.method, request.path, request.host)
            raise Forbidden("without an access token this view answers only to localhost, 127.0.0.1 or [::1]")


def install_token_check(app: Flask, token: str, rejections: RejectionLog) -> None:
    cookie = cookie_value(token)

    @app.before_request
    def require_token() -> Response | None:
        if _matches(_presented_token(), token) or _matches(request.cookies.get(COOKIE), cookie):
            return None
        if _matches(request.args.get(QUERY), token):
            g.set_token_cookie = True
            if request.method == "GET" and request.path in PAGES:
                return redirect(request.path, code=303)  # drop the token from the address bar and history
            return None
        rejections.rejected(NO_TOKEN, request.remote_addr, "rejected %s %s from %s: missing or wrong token",
                            request.method, request.path, request.remote_addr)
        raise Unauthorized("access token required (Authorization: Bearer, X-Edge-Token or ?token=)")

    @app.after_request
    def set_cookie(response: Response) -> Response:
        if g.get("set_token_cookie"):
            response.set_cookie(COOKIE, cookie, max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Strict")
        return response
