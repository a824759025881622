"""Web view plugin of the run and service commands: `python -m edge [service] --web [HOST:PORT] [--web-token TOKEN]`
(docs/WEB.md).

This module stays import-light (edge.config imports edge.web.config); Flask is imported only when the view starts.
"""

from __future__ import annotations

import argparse
import os

from pydantic import ValidationError

from edge.errors import EdgeError
from edge.web.config import DEFAULT_HOST, DEFAULT_PORT, TOKEN_ENV, WebConfig

ADDRESS_DEST = "web_address"
TOKEN_DEST = "web_token"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("web view (docs/WEB.md)")
    group.add_argument("--web", dest=ADDRESS_DEST, nargs="?", const="", default=None, metavar="HOST:PORT",
                       help=f"serve the live view (default {DEFAULT_HOST}:{DEFAULT_PORT}; HOST, :PORT or HOST:PORT; "
                            "port 0 = any free port)")
    group.add_argument("--web-token", dest=TOKEN_DEST, default=None, metavar="TOKEN",
                       help=f"access token (prefer ${TOKEN_ENV}: command lines are visible to other users); "
                            "required when HOST is not loopback")


def parse_address(text: str, web: WebConfig) -> tuple[str, int]:
    """'HOST', ':PORT', 'PORT', 'HOST:PORT' or '[V6]:PORT' -> (host, port); missing parts come from `web`."""
    text = text.strip()
    host, port = web.host, str(web.port)
    if text.startswith("["):
        inner, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise EdgeError(f"--web {text}", "expected [IPV6]:PORT")
        host, port = inner, rest[1:] or port
    elif text.isdigit():
        port = text
    elif text.count(":") == 1:
        head, port = text.split(":")
        host = head or host
    elif text:
        host = text  # a bare host name or IPv6 address
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise EdgeError(f"--web {text}", f"port must be 0..65535, not '{port}'")
    if not host:
        raise EdgeError(f"--web {text}", "empty host")
    return host, int(port)


def resolve_settings(args: argparse.Namespace, web: WebConfig) -> WebConfig | None:
    """The effective web settings (CLI over environment over config file), or None when the view is off."""
    address = getattr(args, ADDRESS_DEST, None)
    if address is None and not web.enabled:
        return None
    update: dict = {"enabled": True}
    if address:
        update["host"], update["port"] = parse_address(address, web)
    token = getattr(args, TOKEN_DEST, None) or os.environ.get(TOKEN_ENV) or web.token
    update["token"] = token or None
    try:  # validated again (model_copy would not): `--web` turns the view on, and its checks apply then
        return WebConfig.model_validate({**web.model_dump(), **update})
    except ValidationError as exc:
        thing = f"config {args.config}" if getattr(args, "config", None) else "config"  # as load_config names it
        raise EdgeError(thing, f"web: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None


def check(args: argparse.Namespace, cfg) -> WebConfig | None:  # cfg: edge.config.RunConfig
    """The effective web settings, checked (one EdgeError if unsafe or invalid), without starting anything."""
    web = resolve_settings(args, cfg.web)
    if web is not None:
        from edge.web.auth import check_settings

        check_settings(web)
    return web


def build_sink(args: argparse.Namespace, cfg):  # cfg: edge.config.RunConfig -> WebSink | None
    web = check(args, cfg)
    if web is None:
        return None
    from edge.web.server import WebSink

    return WebSink(cfg, web)
