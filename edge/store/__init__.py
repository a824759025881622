"""Durable event store: SQLite (WAL) written by a sink, read by `python -m edge report`."""

from edge.store.db import EventStore, Retention
from edge.store.files import open_readonly
from edge.store.sink import StoreSink

__all__ = ["EventStore", "Retention", "StoreSink", "open_readonly"]
