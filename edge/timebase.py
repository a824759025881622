"""Time since boot, the clock that never steps.

A Raspberry Pi has no real-time clock: its wall clock starts at the time it shut down at and steps when NTP
first answers. CLOCK_BOOTTIME never steps and, unlike CLOCK_MONOTONIC, also counts a laptop's suspend, so
`wall - boot` is constant while the wall clock runs on and changes by exactly a step."""

from __future__ import annotations

import threading
import time

BOOT_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)  # BOOTTIME is Linux-only
OFFSET_SAMPLES = 5  # readings of the two clocks; the tightest pair is kept
CLOCK_STEP_S = 0.01  # a change of wall - boot above this is the wall clock stepped (or slewed this far), not jitter


def boot_seconds() -> float:
    return time.clock_gettime(BOOT_CLOCK)


def wall_minus_boot() -> float:
    """The wall time at boot, as the wall clock now sees it (moves by exactly a step).

    The two clocks cannot be read at one instant: a process preempted between the readings (a loaded Pi) would
    put the gap into the offset, and stamps built on it would jitter by that much. So the wall clock is read
    between two boot-clock readings, several times, and the pair with the smallest gap gives the offset."""
    tightest, offset = float("inf"), 0.0
    for _ in range(OFFSET_SAMPLES):
        before = boot_seconds()
        wall = time.time()
        after = boot_seconds()
        if after - before < tightest:
            tightest, offset = after - before, wall - (before + after) / 2
    return offset


class ClipClock:
    """The time of each frame of a clip played at `fps` from the moment the clock starts.

    Stamps are the start time plus position / fps, the start read through today's wall clock (see
    wall_minus_boot): a clip's events then fall at the moment of the clip they describe, however fast this machine
    processes it, and after a clock step later frames stay in line with earlier ones. The wall clock's offset is
    re-read for every stamp but only taken when it moved by more than CLOCK_STEP_S: reading two clocks jitters by
    a microsecond, and stamps exactly 1/fps apart make every run of a clip log the same frames."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self._started_boot = boot_seconds()
        self._offset = wall_minus_boot()

    def stamp(self, position: int) -> float:
        offset = wall_minus_boot()
        if abs(offset - self._offset) > CLOCK_STEP_S:
            self._offset = offset
        return self._offset + self._started_boot + position / self.fps

    def position_now(self) -> int:
        """The frame a real-time player shows at this moment."""
        return int((boot_seconds() - self._started_boot) * self.fps)

    def wait_for(self, position: int, cancel: threading.Event | None = None) -> None:
        """Sleep until frame `position` is due (at most one frame's time when called once per frame), or until
        `cancel` is set: at a time-lapse rate a frame's time is long, and a stop must not wait for it."""
        early = self._started_boot + position / self.fps - boot_seconds()
        if early <= 0:
            return
        if cancel is None:
            time.sleep(early)
        else:
            cancel.wait(early)
