"""A source that stays lost is logged like the service's other faults (docs/SERVICE.md): one WARNING when its
frames stop, one line when they are back, the attempts in between at DEBUG, plus a reminder at a slow, growing
interval. Before, every attempt logged two WARNING lines (`reopen failed: ...` and `stopped delivering frames;
reopening in 10.0 s (attempt N)`): about 17,000 a day for a stream that stays down."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

from edge.errors import EdgeError
from edge.sources.reconnect import ReconnectingSource
from edge.types import Frame

LOGGER = "edge.sources.reconnect"
STREAM = "stream:http://cam.local/stream.mjpg"
DOWN = EdgeError("source http://cam.local/stream.mjpg", "cannot open stream")
DENIED = EdgeError("source http://cam.local/stream.mjpg", "cannot open stream (Permission denied)")
MANY_ATTEMPTS = 1000  # below OVERFLOW_ATTEMPT: the old code logged 2 warnings for each
BACKOFF_INITIAL_S, BACKOFF_MAX_S = 0.5, 10.0  # the config's defaults
DAY_S = 24 * 3600.0
ONE_OUTAGE_WARNINGS = 2  # "stopped delivering frames" and the first "reopen failed"
DAY_REMINDERS = 2 + 23  # after 1 min and 10 min, then every hour: 1 h .. 23 h (at 24 h it is back)


class Camera:
    """Delivers `good` frames, then None (unplugged, or a stream that accepts the connection and sends nothing)."""

    def __init__(self, good: int) -> None:
        self.name, self.left = STREAM, good

    def read(self) -> Frame | None:
        if self.left == 0:
            return None
        self.left -= 1
        return Frame(image=np.zeros((4, 4, 3), np.uint8), timestamp=time.time(), index=0, source=self.name)

    def close(self) -> None:
        return None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class InstantCancel(threading.Event):
    """A cancel event whose backoff waits return at once, moving `clock` (if any) on by the wait."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        super().__init__()
        self.clock, self.delays = clock, []

    def wait(self, timeout: float | None = None) -> bool:
        self.delays.append(timeout)
        if self.clock is not None and timeout is not None:
            self.clock.now += timeout
        return self.is_set()


def failing(failures: list[EdgeError], then: Camera | None = None):  # noqa: ANN201 - the factory
    """A factory raising `failures` in turn, then opening `then` (a camera with one frame by default)."""
    attempts = iter(failures)

    def factory() -> Camera:
        failure = next(attempts, None)
        if failure is not None:
            raise failure
        return then if then is not None else Camera(good=1)

    return factory


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


def test_many_failed_attempts_give_a_bounded_number_of_warnings(caplog):
    source = ReconnectingSource(failing([DOWN] * MANY_ATTEMPTS), BACKOFF_INITIAL_S, BACKOFF_MAX_S,
                                cancel=InstantCancel(), first=Camera(good=1))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert source.read() is not None and source.read() is not None  # the second read waits out the outage
    warned = warnings_of(caplog)
    assert len(warned) == ONE_OUTAGE_WARNINGS, warned
    assert warned[0] == f"{STREAM} stopped delivering frames; reopening in 0.5 s (attempt 1)"
    assert warned[1] == f"{STREAM}: reopen failed: {DOWN}"
    attempts = [r for r in caplog.records if "reopening in" in r.getMessage()]
    assert len(attempts) == MANY_ATTEMPTS + 1 and {r.levelno for r in attempts[1:]} == {logging.DEBUG}
    back = [r.getMessage() for r in caplog.records if "reopened after" in r.getMessage()]
    assert back == [f"{STREAM} reopened after {MANY_ATTEMPTS + 1} attempt(s) (no frames for 0 s)"]


def test_a_day_long_outage_warns_when_it_starts_then_at_a_growing_interval(caplog):
    """A fake clock moved by each backoff: 24 h of a stream that is down at 10 s per attempt."""
    clock = FakeClock()
    back_at = clock.now + DAY_S
    tried = []

    def down_for_a_day() -> Camera:
        tried.append(clock.now)
        if clock.now < back_at:
            raise DOWN
        return Camera(good=1)

    source = ReconnectingSource(down_for_a_day, BACKOFF_INITIAL_S, BACKOFF_MAX_S, cancel=InstantCancel(clock),
                                first=Camera(good=1), clock=clock)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert source.read() is not None and source.read() is not None
    warned = warnings_of(caplog)
    reminders = [w for w in warned if "still reopening" in w]
    assert len(warned) == ONE_OUTAGE_WARNINGS + DAY_REMINDERS, warned
    assert len(reminders) == DAY_REMINDERS
    assert reminders[0].startswith(f"{STREAM}: still reopening (lost 1 min, ")
    assert reminders[1].startswith(f"{STREAM}: still reopening (lost 10 min, ")
    assert reminders[2].startswith(f"{STREAM}: still reopening (lost 1 h 0 min, ")
    assert reminders[-1].startswith(f"{STREAM}: still reopening (lost 23 h 0 min, ")
    assert reminders[2].endswith(f"attempts; last: {DOWN})")
    back = [r for r in caplog.records if "reopened after" in r.getMessage()]
    assert [r.levelno for r in back] == [logging.INFO]
    assert back[0].getMessage().endswith(f"reopened after {len(tried)} attempt(s) (no frames for 24 h 0 min)")
    assert len(tried) > DAY_S / BACKOFF_MAX_S  # 8,640 attempts, which logged 17,280 warnings before


def test_a_long_backoff_passing_several_reminders_gives_one(caplog):
    clock = FakeClock()
    source = ReconnectingSource(failing([DOWN] * 3), backoff_initial_s=3600.0, backoff_max_s=3600.0,
                                cancel=InstantCancel(clock), first=Camera(good=1), clock=clock)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert source.read() is not None and source.read() is not None
    reminders = [w for w in warnings_of(caplog) if "still reopening" in w]
    assert [w.split(",")[0] for w in reminders] == [f"{STREAM}: still reopening (lost 1 h 0 min",
                                                     f"{STREAM}: still reopening (lost 2 h 0 min",
                                                     f"{STREAM}: still reopening (lost 3 h 0 min"]


def test_a_new_reopen_failure_reason_is_one_more_warning_and_flapping_adds_none(caplog):
    flapping = [DOWN, DOWN, DENIED, DOWN, DENIED] * 100
    source = ReconnectingSource(failing(flapping), BACKOFF_INITIAL_S, BACKOFF_MAX_S, cancel=InstantCancel(),
                                first=Camera(good=1))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert source.read() is not None and source.read() is not None
    failed = [w for w in warnings_of(caplog) if "reopen failed" in w]
    assert failed == [f"{STREAM}: reopen failed: {DOWN}", f"{STREAM}: reopen failed: {DENIED}"]


def test_ever_new_failure_reasons_are_capped(caplog):
    changing = [EdgeError("source x", f"cannot open stream (error {n})") for n in range(100)]
    source = ReconnectingSource(failing(changing), BACKOFF_INITIAL_S, BACKOFF_MAX_S, cancel=InstantCancel(),
                                first=Camera(good=1))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert source.read() is not None and source.read() is not None
    assert len(warnings_of(caplog)) <= ONE_OUTAGE_WARNINGS + 2


def test_a_stream_that_opens_but_sends_nothing_is_one_outage(caplog):
    """Each reopen succeeds, but no frame comes: neither a warning nor a "reopened" line per attempt."""
    empty = [Camera(good=0) for _ in range(MANY_ATTEMPTS)]
    opened = iter([*empty, Camera(good=1)])
    source = ReconnectingSource(lambda: next(opened), BACKOFF_INITIAL_S, BACKOFF_MAX_S, cancel=InstantCancel(),
                                first=Camera(good=1))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert source.read() is not None and source.read() is not None
    assert warnings_of(caplog) == [f"{STREAM} stopped delivering frames; reopening in 0.5 s (attempt 1)"]
    info = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]
    assert info == [f"{STREAM} reopened after {MANY_ATTEMPTS + 1} attempt(s) (no frames for 0 s)"]
    assert source.reconnects == MANY_ATTEMPTS + 1


def test_each_outage_starts_afresh(caplog):
    """After frames came back, the next loss is news again: its WARNING and its first failure reason."""
    source = ReconnectingSource(failing([DOWN, DOWN]), BACKOFF_INITIAL_S, BACKOFF_MAX_S, cancel=InstantCancel(),
                                first=Camera(good=1))
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert source.read() is not None and source.read() is not None  # lost: 2 failures, then back
        source._factory = failing([DOWN])  # noqa: SLF001 - the next outage: 1 failure
        assert source.read() is not None
    assert len(warnings_of(caplog)) == 2 * ONE_OUTAGE_WARNINGS


OVERFLOW_ATTEMPT = 1025  # 0.5 * 2 ** 1024 does not fit a float: read() raised OverflowError here, ending the run


def test_the_backoff_stays_at_its_cap_however_long_the_outage():
    cancel = InstantCancel()
    source = ReconnectingSource(failing([DOWN] * (OVERFLOW_ATTEMPT + 10)), BACKOFF_INITIAL_S, BACKOFF_MAX_S,
                                cancel=cancel, first=Camera(good=1))
    assert source.read() is not None and source.read() is not None
    assert len(cancel.delays) == OVERFLOW_ATTEMPT + 11 and set(cancel.delays[OVERFLOW_ATTEMPT - 10:]) == {BACKOFF_MAX_S}
