"""Rejected requests are logged rate-limited: the first of a kind in full, then one count per interval, so a tab
left open after a token change (or a stream of cut connections) cannot fill the journal. The clock is injected."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from tests.web.conftest import TOKEN

INTERVAL_S = 60.0
FLOOD = 120
WAIT_S = 20.0  # readiness wait for the server thread's summary (it checks every 0.5 s)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_app(emotion_model, clock):
    """`make_app(token)`: the real Flask app and its RejectionLog (on the fake clock)."""
    from edge.config import RunConfig
    from edge.web.app import create_app
    from edge.web.photo import PhotoService
    from edge.web.rejections import RejectionLog
    from edge.web.state import WebState
    from edge.web.stream import StreamEncoder

    cfg = RunConfig.model_validate({"classifier": {"model": str(emotion_model)}})
    state = WebState(cfg.web.stats_window_s, cfg.web.stats_bucket_s)
    photos = PhotoService(cfg)

    def make(token: str | None, max_kinds: int | None = None):
        limits = {} if max_kinds is None else {"max_kinds": max_kinds}
        rejections = RejectionLog(INTERVAL_S, clock=clock, **limits)
        encoder = StreamEncoder(state, cfg.web.stream_fps, cfg.web.jpeg_quality)
        return create_app(state, encoder, photos, token, cfg.web.max_upload_mb, rejections), rejections

    try:
        yield make
    finally:
        photos.close()
        state.close()


def rejection_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("rejected ")]


def summaries(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("web: ")]


def test_wrong_tokens_give_one_line_then_one_count_per_interval(make_app, clock, caplog):
    caplog.set_level(logging.INFO)
    app, rejections = make_app(TOKEN)
    client = app.test_client()
    for _ in range(FLOOD):
        assert client.get("/api/state", headers={"X-Edge-Token": "wrong-token-000"}).status_code == 401
    assert rejection_lines(caplog) == ["rejected GET /api/state from 127.0.0.1: missing or wrong token"]
    rejections.flush()
    assert summaries(caplog) == []  # the interval has not passed
    clock.now += INTERVAL_S
    rejections.flush()
    rejections.flush()  # nothing more to say
    assert summaries(caplog) == [f"web: {FLOOD - 1} more requests from 127.0.0.1 rejected (wrong or missing token) "
                                 f"in the last 60 s"]
    client.get("/api/state", headers={"X-Edge-Token": "wrong-token-000"})  # the flood goes on: still only counted
    assert len(rejection_lines(caplog)) == 1
    assert client.get("/api/state", headers={"X-Edge-Token": TOKEN}).status_code == 200  # the token still works


def test_another_client_address_is_logged_separately(make_app, clock, caplog):
    caplog.set_level(logging.INFO)
    app, rejections = make_app(TOKEN)
    client = app.test_client()
    for address in ("127.0.0.1", "192.0.2.7", "127.0.0.1", "192.0.2.7", "192.0.2.7"):
        assert client.get("/stream.mjpg", environ_base={"REMOTE_ADDR": address}).status_code == 401
    assert rejection_lines(caplog) == ["rejected GET /stream.mjpg from 127.0.0.1: missing or wrong token",
                                       "rejected GET /stream.mjpg from 192.0.2.7: missing or wrong token"]
    clock.now += INTERVAL_S
    rejections.flush()
    assert sorted(summaries(caplog)) == [
        "web: 1 more request from 127.0.0.1 rejected (wrong or missing token) in the last 60 s",
        "web: 2 more requests from 192.0.2.7 rejected (wrong or missing token) in the last 60 s"]


def test_a_kind_quiet_for_an_interval_is_logged_in_full_again(make_app, clock, caplog):
    caplog.set_level(logging.INFO)
    app, rejections = make_app(TOKEN)
    client = app.test_client()
    client.get("/api/health")
    clock.now += INTERVAL_S
    rejections.flush()  # nothing was counted: no summary, and the kind is forgotten
    assert summaries(caplog) == [] and rejections.tracked == 0
    client.get("/api/health")
    client.get("/api/health")
    assert rejection_lines(caplog) == ["rejected GET /api/health from 127.0.0.1: missing or wrong token"] * 2
    rejections.close()  # a count not yet due is logged at close
    assert summaries(caplog) == ["web: 1 more request from 127.0.0.1 rejected (wrong or missing token) "
                                 "in the last 0 s"]


def test_a_flood_from_many_addresses_stays_bounded(make_app, clock, caplog):
    caplog.set_level(logging.INFO)
    max_kinds, addresses = 8, 200
    app, rejections = make_app(TOKEN, max_kinds=max_kinds)
    client = app.test_client()
    for n in range(addresses):
        client.get("/", environ_base={"REMOTE_ADDR": f"10.0.{n // 256}.{n % 256}"})
    assert rejections.tracked == max_kinds + 1  # the first max_kinds addresses, and one kind for all the others
    assert len(rejection_lines(caplog)) == max_kinds + 1
    clock.now += INTERVAL_S
    rejections.flush()
    assert summaries(caplog) == [f"web: {addresses - max_kinds - 1} more requests from other clients rejected "
                                 f"(wrong or missing token) in the last 60 s"]


def test_a_slow_scan_from_ever_new_addresses_is_counted_not_logged_line_by_line(make_app, clock, caplog):
    """One request a second, each from a new address, for ten minutes: quiet kinds are forgotten after a minute,
    so the kinds stay few, but full lines are capped per interval too."""
    from edge.web.rejections import MAX_FULL_LINES

    caplog.set_level(logging.INFO)
    app, rejections = make_app(TOKEN)
    client = app.test_client()
    seconds = 600
    for n in range(seconds):
        clock.now += 1.0
        assert client.get("/", environ_base={"REMOTE_ADDR": f"10.1.{n // 256}.{n % 256}"}).status_code == 401
    rejections.close()
    minutes = seconds / INTERVAL_S
    full, counts = rejection_lines(caplog), summaries(caplog)
    assert len(full) <= (MAX_FULL_LINES + 1) * (minutes + 1)  # + 1: the first "other clients" line of a minute
    assert len(full) >= MAX_FULL_LINES * minutes  # the cap is per interval: new addresses are named again later
    assert len(full) + sum(int(line.split()[1]) for line in counts) == seconds  # every rejection accounted for


def test_rejections_from_many_threads_are_all_counted(make_app, clock, caplog):
    caplog.set_level(logging.INFO)
    threads, each = 8, 50
    app, rejections = make_app(TOKEN)

    def flood() -> None:
        client = app.test_client()
        for _ in range(each):
            client.get("/api/state")

    workers = [threading.Thread(target=flood) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    clock.now += INTERVAL_S
    rejections.flush()
    assert len(rejection_lines(caplog)) == 1
    assert summaries(caplog) == [f"web: {threads * each - 1} more requests from 127.0.0.1 rejected "
                                 f"(wrong or missing token) in the last 60 s"]


def cut_request(port: int) -> bytes:
    """A request cut off in the middle of its Host header (the client went away)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as conn:
        conn.sendall(b"GET /api/state HTTP/1.1\r\nHost: 127.0.0")
        conn.shutdown(socket.SHUT_WR)
        return conn.recv(1024)


def test_cut_connections_on_a_real_server_give_one_line_and_a_timely_count(make_app, clock, caplog):
    """Tokenless, a half-sent `Host: 127.0.0` is not a loopback name: every cut connection was one more line. The
    serving thread logs the count once the interval has passed, without waiting for another request."""
    from edge.web.server import WebServer

    caplog.set_level(logging.INFO)
    app, rejections = make_app(None)
    server = WebServer(app, "127.0.0.1", 0, housekeeping=rejections.flush)
    server.start()
    try:
        for _ in range(10):
            assert cut_request(server.port).startswith(b"HTTP/1.1 403")
        assert app.test_client().get("/api/state", headers={"Host": "evil.example"}).status_code == 403
        assert rejection_lines(caplog) == ["rejected GET /api/state for Host '127.0.0': not a loopback name"]
        clock.now += INTERVAL_S
        deadline = time.monotonic() + WAIT_S
        while not summaries(caplog):
            assert time.monotonic() < deadline, "the server logged no summary"
            time.sleep(0.05)
    finally:
        server.close()
    assert summaries(caplog) == ["web: 10 more requests rejected (Host not a loopback name) in the last 60 s"]
