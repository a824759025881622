"""The `web:` config section (pydantic, extra keys forbidden). Kept free of Flask so edge.config can import it."""

from __future__ import annotations

from pydantic import Field

from edge.config_model import Strict

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MIN_TOKEN_LENGTH = 8
TOKEN_ENV = "EDGE_WEB_TOKEN"


class WebConfig(Strict):
    enabled: bool = Field(False, description="serve the web view (same as --web)")
    host: str = Field(DEFAULT_HOST, description="bind address; anything but loopback requires web.token")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="TCP port (0 = any free port, logged at start)")
    token: str | None = Field(None, description="access token (or --web-token / $EDGE_WEB_TOKEN); "
                                                "required off loopback")
    stream_fps: float = Field(10.0, gt=0, le=60, description="maximum frame rate of the MJPEG stream")
    jpeg_quality: int = Field(80, ge=10, le=100)
    stats_window_s: float = Field(300.0, gt=0, description="statistics cover this many recent seconds")
    stats_bucket_s: float = Field(10.0, gt=0, description="the live chart has one point per bucket of seconds")
    max_upload_mb: float = Field(8.0, gt=0, description="largest accepted photo upload")
