"""Wall-clock steps, seen as a jump in wall time minus time since boot (edge.timebase).

Events stamped before a step (NTP's first answer on a Pi without a real-time clock) carry the stale time; the
store moves this run's earlier events by the step."""

from __future__ import annotations

import time
from dataclasses import dataclass

from edge.timebase import boot_seconds

CLOCK_STEP_S = 2.0  # NTP slews offsets under 0.128 s and steps larger ones; a change this big is a step


class ClockWatch:
    """`step()` returns by how many seconds the wall clock stepped since the last call (0.0 if by no more than
    threshold_s: a small step is not undone, and does not add up with later ones into a large one)."""

    def __init__(self, wall=time.time, boot=boot_seconds, threshold_s: float = CLOCK_STEP_S) -> None:
        self._wall, self._boot, self.threshold_s = wall, boot, threshold_s
        self._offset = wall() - boot()

    def now(self) -> float:
        """The wall clock this watch reads."""
        return self._wall()

    def step(self) -> float:
        offset = self._wall() - self._boot()
        delta, self._offset = offset - self._offset, offset
        return delta if abs(delta) > self.threshold_s else 0.0


def stamped_before(ts: float, delta_s: float, now: float) -> bool:
    """Whether `ts` was stamped by the clock before a step of delta_s (it lies nearer that old timeline's now):
    the frame being processed when the step is noticed was usually captured before it."""
    return abs(ts - (now - delta_s)) < abs(ts - now)


@dataclass
class Shift:
    """One clock step to undo in the store: this session's rows up to `last_id` move by delta_s, in chunks;
    rows up to `done_to` have moved."""

    delta_s: float
    last_id: int
    done_to: int = 0

    @property
    def done(self) -> bool:
        return self.done_to >= self.last_id
