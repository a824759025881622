"""Wall-clock steps, seen as a jump in wall time minus time since boot.

A Raspberry Pi has no real-time clock: it boots with the time it shut down at (fake-hwclock) and steps to the
true time when NTP first answers, seconds or hours into a run. Events stamped before that step carry the stale
time. Time since boot (CLOCK_BOOTTIME, which also counts a laptop's suspend, unlike CLOCK_MONOTONIC) never
steps, so the step is the change of `wall - boottime`; the store moves the run's earlier events by it."""

from __future__ import annotations

import time

CLOCK_STEP_S = 2.0  # NTP slews offsets under 0.128 s and steps larger ones; a change this big is a step
BOOT_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)  # BOOTTIME is Linux-only


def boot_seconds() -> float:
    return time.clock_gettime(BOOT_CLOCK)


class ClockWatch:
    """`step()` returns by how many seconds the wall clock stepped since the last call (0.0 if it did not)."""

    def __init__(self, wall=time.time, boot=boot_seconds, threshold_s: float = CLOCK_STEP_S) -> None:
        self._wall, self._boot, self.threshold_s = wall, boot, threshold_s
        self._offset = wall() - boot()

    def step(self) -> float:
        offset = self._wall() - self._boot()
        delta = offset - self._offset
        if abs(delta) <= self.threshold_s:
            return 0.0
        self._offset = offset
        return delta
