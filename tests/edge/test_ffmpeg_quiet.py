"""FFmpeg's own log lines (inside OpenCV's VideoCapture) stay off stderr: when an HTTP/MJPEG stream drops, FFmpeg
printed `[http @ 0x...] Stream ends prematurely at N, should be M` straight to stderr, among our structured log
lines (journald), although our own log already reports the drop and the reconnect. OpenCV reads
OPENCV_FFMPEG_LOGLEVEL once, at the first FFmpeg capture of the process; a value the user set is kept.

The stream is real: a local MJPEG server (the audit's LiveMjpeg) that announces a Content-Length, as many cameras
and proxies do, and drops the connection long before it, read by edge.sources.open_source in a subprocess (a fresh
process, whose first FFmpeg capture is the stream's).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from tests.edge.helpers import REPO, edge_env
from tests.edge.test_audit_opencv import BURST, LiveMjpeg, serving

FFMPEG_LOGLEVEL_ENV = "OPENCV_FFMPEG_LOGLEVEL"
RAW_FFMPEG_LINE = "Stream ends prematurely"
ANNOUNCED_LENGTH = 10**9  # bytes: far more than the server sends before it drops the connection
RUN_TIMEOUT_S = 120  # two connections of about 1 s each, plus imports, on a busy machine
OUR_DROP_LINE = "stopped delivering frames; reopening in"
OUR_REOPEN_LINE = "reopened after 1 attempt(s)"
USER_LEVEL = "16"  # AV_LOG_ERROR: OpenCV's callback then prints FFmpeg's errors as `[OPENCV:FFMPEG:16] ...`
USER_PREFIX = f"[OPENCV:FFMPEG:{USER_LEVEL}]"

# Reads the stream through a drop and one reconnect (a frame after 2 * BURST), logging the way a run does.
READER = textwrap.dedent("""
    import logging, sys
    from edge.config import SourceConfig
    from edge.sources import open_source

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    source = open_source(SourceConfig(uri=sys.argv[1], backoff_initial_s=0.1, backoff_max_s=0.1))
    frames = [source.read() for _ in range(int(sys.argv[2]))]
    source.close()
    print("frames", sum(frame is not None for frame in frames))
""")


class DroppingMjpeg(LiveMjpeg):
    """LiveMjpeg (a burst, a stall, a burst, then the connection drops), with a Content-Length it never reaches."""

    def end_headers(self) -> None:
        self.send_header("Content-Length", str(ANNOUNCED_LENGTH))
        super().end_headers()


@pytest.fixture
def dropping_stream() -> Iterator[str]:
    with serving(DroppingMjpeg) as url:
        yield url


def read_through_a_drop(url: str, **env: str) -> subprocess.CompletedProcess:
    """Run READER on `url` with `env` added (OPENCV_FFMPEG_LOGLEVEL unset unless given); checks it read through."""
    frames = 2 * BURST + 1  # the whole first connection, then one frame of the reopened one
    environment = edge_env(**env)
    if FFMPEG_LOGLEVEL_ENV not in env:  # whatever this test process was given
        environment.pop(FFMPEG_LOGLEVEL_ENV, None)
    result = subprocess.run([sys.executable, "-c", READER, url, str(frames)], cwd=REPO, env=environment,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"frames {frames}" in result.stdout.splitlines(), (result.stdout, result.stderr[-3000:])
    return result


def test_a_dropped_stream_leaves_only_our_own_lines_on_stderr(dropping_stream: str) -> None:
    result = read_through_a_drop(dropping_stream)
    assert RAW_FFMPEG_LINE not in result.stderr and RAW_FFMPEG_LINE not in result.stdout, result.stderr
    assert OUR_DROP_LINE in result.stderr and OUR_REOPEN_LINE in result.stderr, result.stderr
    levels = ("DEBUG ", "INFO ", "WARNING ", "ERROR ", "CRITICAL ")
    strangers = [line for line in result.stderr.splitlines() if not line.startswith(levels)]
    assert not strangers, strangers


def test_a_log_level_the_user_set_is_kept(dropping_stream: str) -> None:
    result = read_through_a_drop(dropping_stream, **{FFMPEG_LOGLEVEL_ENV: USER_LEVEL})
    assert f"{USER_PREFIX} {RAW_FFMPEG_LINE}" in result.stdout, (result.stdout, result.stderr[-3000:])
    assert OUR_DROP_LINE in result.stderr
