"""Output sinks: drop-in implementations of edge.sinks.base.BaseSink."""

from edge.sinks.base import BaseSink, NullSink

__all__ = ["BaseSink", "NullSink"]
