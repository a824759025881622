"""The files a run writes (events log, store, video) checked against each other before any is opened.

Two outputs at one path destroy each other without an error: SQLite pages over the JSON lines, the video writer
over the database (which the store then takes for corrupt and moves aside, committed events and all), and an
events log appended to an existing model file. Each is a configuration mistake, refused here in one line."""

from __future__ import annotations

import os
from pathlib import Path

from edge.config import RunConfig
from edge.errors import EdgeError

EVENTS_KEY = "output.events_file"
STORE_KEY = "store.path"
VIDEO_KEY = "output.video"


def output_files(cfg: RunConfig) -> dict[str, Path]:
    """The files the configuration turns on, by the key that names each (the store's as StoreSink resolves it)."""
    files: dict[str, Path] = {}
    if cfg.output.events:
        files[EVENTS_KEY] = cfg.output.events_path
    if cfg.store.enabled:
        from edge.store import StoreSink

        files[STORE_KEY] = StoreSink.path_for(cfg.store, cfg.output.dir)
    if cfg.output.video is not None:
        files[VIDEO_KEY] = cfg.output.video
    return files


def check_output_files(cfg: RunConfig) -> None:
    """EdgeError when two outputs name one file (links and `..` resolved), or when the events log, which is
    appended to, names an existing file that is not text (a model, a database, a video)."""
    seen: dict[str, str] = {}
    for key, path in output_files(cfg).items():
        real = os.path.realpath(path)
        if real in seen:
            raise EdgeError(f"{key} {path}", f"the same file as {seen[real]}; give each output its own file")
        seen[real] = key
    events = output_files(cfg).get(EVENTS_KEY)
    if events is not None and _binary(events):
        raise EdgeError(f"events log {events}", "exists and is not a text log (a model, database or video?); the "
                                                f"events would be appended to it: choose another {EVENTS_KEY}")


def check_files_before_opening(cfg: RunConfig) -> None:
    """check_output_files, and the events log's folder and the store's file and folder as their sinks would find
    them, creating nothing: a store that cannot be opened no longer leaves an empty events log behind it."""
    check_output_files(cfg)
    check_events_folder(cfg)
    if cfg.store.enabled:
        from edge.store import StoreSink
        from edge.store.files import check_store_path

        check_store_path(StoreSink.path_for(cfg.store, cfg.output.dir))


def _binary(path: Path) -> bool:
    from edge.store.files import is_text_file

    try:
        return path.is_file() and path.stat().st_size > 0 and not is_text_file(path)
    except OSError:
        return False  # unreadable: opening the log reports it


def check_events_folder(cfg: RunConfig) -> None:
    """--check-config: the events log's folder (output.dir) could be made and written, found without creating it."""
    from edge.staged import folder_problem

    problem = folder_problem(cfg.output.events_path.parent) if cfg.output.events else None
    if problem:
        raise EdgeError(f"events log {cfg.output.events_path}", problem)
