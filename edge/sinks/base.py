"""Sink base class (edge.types.Sink protocol) and the null sink."""

from __future__ import annotations

from edge.types import FrameResult


class BaseSink:
    """Drop-in output. `should_stop()` lets an interactive sink (window: q/Esc) end the run. `shows_live`: someone
    watches it as it happens (the window, the web view, the on-screen display), so the demo fallback loops in real
    time instead of ending after one pass."""

    shows_live = False

    def write(self, result: FrameResult) -> None:
        raise NotImplementedError

    def should_stop(self) -> bool:
        return False

    def waiting(self, why: str) -> None:
        """Before the first frame: the run is up but waits (`why`, e.g. for its camera). A live view says so."""
        return None

    def describe(self) -> str:
        """Where the output went, for the end-of-run summary ('' = nothing to say)."""
        return ""

    def close(self) -> None:
        return None


class NullSink(BaseSink):
    """Discards everything (benchmarks, tests)."""

    def write(self, result: FrameResult) -> None:
        return None
