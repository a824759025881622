"""The `web:` config section (pydantic, extra keys forbidden). Kept free of Flask so edge.config can import it."""

from __future__ import annotations

import math

from pydantic import Field, model_validator

from edge.config_model import Strict

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MIN_TOKEN_LENGTH = 8
TOKEN_ENV = "EDGE_WEB_TOKEN"
# The live chart's bars (stats_window_s / stats_bucket_s). Each /api/state poll builds them under the lock every
# frame waits for: 8,640 bars (a 24 h window at 10 s) held frames for up to 1.3 s and sent 2.4 MB per poll, into a
# chart about 440 px wide; 360 (1 h at 10 s) held them 18 ms at most (measured on this machine, loaded).
MAX_CHART_BARS = 360
SUGGESTION_ROUNDING = 1000  # the bucket suggested is rounded up to thousandths of a second, so that it fits


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

    @model_validator(mode="after")
    def _chart_fits(self) -> WebConfig:
        bars = math.ceil(self.stats_window_s / self.stats_bucket_s)
        if self.enabled and bars > MAX_CHART_BARS:  # a config with the web view off keeps working
            fitting = math.ceil(self.stats_window_s / MAX_CHART_BARS * SUGGESTION_ROUNDING) / SUGGESTION_ROUNDING
            raise ValueError(f"stats_window_s / stats_bucket_s makes {bars} chart bars, more than {MAX_CHART_BARS}; "
                             f"raise stats_bucket_s to {fitting:g} or more")
        return self
