"""The wall-minus-boot offset: one number while the wall clock runs on, even when the process is preempted
between reading the two clocks."""

from __future__ import annotations

from edge import timebase

BOOT_AT = 1_000_000.0  # the wall time at boot in the fake clocks below


def test_a_preempted_reading_does_not_move_the_offset(monkeypatch):
    # the first reading is preempted for 5 ms between the clocks, the others are 1 us apart
    boot = iter([10.0, 10.005, 20.0, 20.000001, 30.0, 30.000001, 40.0, 40.000001, 50.0, 50.000001])
    wall = iter([BOOT_AT + 10.004, BOOT_AT + 20.0000005, BOOT_AT + 30.0000005, BOOT_AT + 40.0000005,
                 BOOT_AT + 50.0000005])
    monkeypatch.setattr(timebase, "boot_seconds", lambda: next(boot))
    monkeypatch.setattr(timebase.time, "time", lambda: next(wall))
    assert abs(timebase.wall_minus_boot() - BOOT_AT) < 1e-6


def test_the_offset_is_steady_on_the_real_clocks():
    readings = [timebase.wall_minus_boot() for _ in range(200)]
    assert max(readings) - min(readings) < 1e-3  # NTP slewing moves it by microseconds, a step by far more


def test_clip_stamps_ignore_reading_jitter_but_follow_a_clock_step(monkeypatch):
    """Frame k of a clip is stamped exactly k/fps after frame 0 (reading two clocks jitters by microseconds, and a
    30-frame step must be exactly the 1 s interval the event log throttles by); a clock step moves later stamps."""
    offsets = iter([BOOT_AT, BOOT_AT + 1e-6, BOOT_AT - 1e-6, BOOT_AT + 3600.0])
    monkeypatch.setattr(timebase, "wall_minus_boot", lambda: next(offsets))
    monkeypatch.setattr(timebase, "boot_seconds", lambda: 10.0)
    clock = timebase.ClipClock(30.0)
    assert clock.stamp(0) == BOOT_AT + 10.0
    assert clock.stamp(30) == BOOT_AT + 11.0
    assert clock.stamp(60) == BOOT_AT + 3600.0 + 12.0


def test_clip_stamps_follow_a_clock_set_back_too(monkeypatch):
    """NTP correcting a wall clock that ran ahead steps it back: later stamps move back with it."""
    offsets = iter([BOOT_AT, BOOT_AT - 3600.0])
    monkeypatch.setattr(timebase, "wall_minus_boot", lambda: next(offsets))
    monkeypatch.setattr(timebase, "boot_seconds", lambda: 10.0)
    assert timebase.ClipClock(30.0).stamp(30) == BOOT_AT - 3600.0 + 11.0
