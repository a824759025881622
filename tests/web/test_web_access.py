"""Safe by default: loopback without a token; any other bind address needs one, on every request.

The "beyond loopback" server binds 127.0.0.2: reachable only from this machine (the tests never listen on a real
network), yet not one of the tokenless names (127.0.0.1, localhost, ::1), so it is treated exactly like 0.0.0.0.
"""

from __future__ import annotations

import argparse

import pytest

from edge.errors import EdgeError
from edge.web import parse_address, resolve_settings
from edge.web.auth import COOKIE, check_settings, host_name, token_required
from edge.web.config import WebConfig
from tests.web.conftest import TOKEN
from tests.web.webclient import read_mjpeg, request, upload


@pytest.mark.parametrize("host, required", [
    ("127.0.0.1", False), ("localhost", False), ("::1", False), ("[::1]", False),
    ("127.0.0.2", True), ("0.0.0.0", True), ("::", True), ("192.168.1.20", True), ("pi.local", True),
])
def test_token_required_beyond_loopback(host, required):
    assert token_required(host) is required


def test_settings_without_token_off_loopback_are_refused():
    check_settings(WebConfig())  # 127.0.0.1, no token: fine
    with pytest.raises(EdgeError, match="needs an access token"):
        check_settings(WebConfig(host="0.0.0.0"))
    with pytest.raises(EdgeError, match="too short"):
        check_settings(WebConfig(host="0.0.0.0", token="abc"))
    check_settings(WebConfig(host="0.0.0.0", token=TOKEN))


@pytest.mark.parametrize("text, expected", [
    ("", ("127.0.0.1", 8080)), ("0.0.0.0", ("0.0.0.0", 8080)), (":9000", ("127.0.0.1", 9000)),
    ("9000", ("127.0.0.1", 9000)), ("192.168.1.5:81", ("192.168.1.5", 81)), ("[::]:8081", ("::", 8081)),
    ("::", ("::", 8080)),
])
def test_parse_address(text, expected):
    assert parse_address(text, WebConfig()) == expected


@pytest.mark.parametrize("text", ["host:port", "1.2.3.4:70000", "[::1"])
def test_parse_address_rejects_garbage(text):
    with pytest.raises(EdgeError):
        parse_address(text, WebConfig())


def test_token_precedence_cli_env_config(monkeypatch):
    config = WebConfig(token="from-config-file")
    args = argparse.Namespace(web_address="", web_token=None)
    monkeypatch.delenv("EDGE_WEB_TOKEN", raising=False)
    assert resolve_settings(args, config).token == "from-config-file"
    monkeypatch.setenv("EDGE_WEB_TOKEN", "from-environment")
    assert resolve_settings(args, config).token == "from-environment"
    args.web_token = "from-command-line"
    assert resolve_settings(args, config).token == "from-command-line"
    assert resolve_settings(argparse.Namespace(web_address=None, web_token=None), WebConfig()) is None


@pytest.mark.parametrize("path", ["/", "/photo", "/api/state", "/api/health", "/stream.mjpg", "/static/live.js"])
def test_every_request_needs_the_token(guarded_view, path):
    assert guarded_view.host == "127.0.0.2"
    reply = request(guarded_view.url, path)
    assert reply.status == 401 and "token" in reply.text and "Traceback" not in reply.text
    wrong = request(guarded_view.url, path, headers={"X-Edge-Token": TOKEN + "x"})
    assert wrong.status == 401


def test_upload_needs_the_token(guarded_view):
    assert upload(guarded_view.url, b"whatever").status == 401


def test_token_by_header(guarded_view):
    assert request(guarded_view.url, "/api/health", headers={"X-Edge-Token": TOKEN}).json()["status"] == "ok"
    bearer = request(guarded_view.url, "/api/state", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status == 200 and bearer.json()["frame"] is not None
    assert read_mjpeg(guarded_view.url, 1, headers={"X-Edge-Token": TOKEN})[0][:2] == b"\xff\xd8"


def test_token_in_query_once_then_cookie(guarded_view):
    first = request(guarded_view.url, f"/?token={TOKEN}")
    assert first.status == 303 and first.headers["Location"].endswith("/")  # token dropped from the address
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and TOKEN not in cookie
    assert "SameSite=Strict" in cookie  # another site's page cannot post an upload with it
    jar = {"Cookie": cookie.split(";")[0]}
    assert request(guarded_view.url, "/", headers=jar).status == 200
    assert request(guarded_view.url, "/api/state", headers=jar).status == 200
    assert read_mjpeg(guarded_view.url, 1, headers=jar)[0][:2] == b"\xff\xd8"
    direct = request(guarded_view.url, f"/api/health?token={TOKEN}")  # the API answers directly, cookie set too
    assert direct.status == 200 and direct.headers["Set-Cookie"].startswith(f"{COOKIE}=")
    assert request(guarded_view.url, "/api/state", headers={"Cookie": f"{COOKIE}=forged"}).status == 401


@pytest.mark.parametrize("header, name", [("localhost:8080", "localhost"), ("127.0.0.1", "127.0.0.1"),
                                          ("[::1]:8080", "::1"), ("[::1]", "::1"), ("LocalHost:1", "localhost"),
                                          ("evil.example:8080", "evil.example"), ("::1", "::1")])
def test_host_name(header, name):
    assert host_name(header) == name


def test_the_tokenless_view_refuses_a_foreign_host_name(view):
    """DNS rebinding: a page from evil.example, its name rebound to 127.0.0.1, sends `Host: evil.example`."""
    for path in ("/", "/api/state", "/stream.mjpg"):
        foreign = request(view.url, path, headers={"Host": f"evil.example:{view.port}"})
        assert foreign.status == 403 and "localhost" in foreign.text, path
    for host in (f"localhost:{view.port}", f"127.0.0.1:{view.port}"):
        assert request(view.url, "/api/state", headers={"Host": host}).status == 200
