"""Time since boot, the clock that never steps.

A Raspberry Pi has no real-time clock: its wall clock starts at the time it shut down at and steps when NTP
first answers. CLOCK_BOOTTIME never steps and, unlike CLOCK_MONOTONIC, also counts a laptop's suspend, so
`wall - boot` is constant while the wall clock runs on and changes by exactly a step."""

from __future__ import annotations

import time

BOOT_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)  # BOOTTIME is Linux-only


def boot_seconds() -> float:
    return time.clock_gettime(BOOT_CLOCK)


def wall_minus_boot() -> float:
    """The wall time at boot, as the wall clock now sees it (moves by exactly a step)."""
    return time.time() - boot_seconds()
