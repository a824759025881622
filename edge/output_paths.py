"""The files a run writes (events log, store, video) checked before any is opened: against each other, and
whether each could be written.

Two outputs at one path destroy each other without an error: SQLite pages over the JSON lines, the video writer
over the database (which the store then takes for corrupt and moves aside, committed events and all), and an
events log appended to an existing model file. Each is a configuration mistake, refused here in one line. The
service runs the same checks before it waits for a missing camera and in --check-config, in the same order, so
each finds the same first error."""

from __future__ import annotations

import os
from pathlib import Path

from edge.config import RunConfig
from edge.errors import EdgeError
from edge.file_signatures import known_format
from edge.staged import folder_problem, path_problem
from edge.store.files import check_store_path

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


def check_output_files(cfg: RunConfig, check_store: bool = True) -> None:
    """EdgeError, creating nothing, when two outputs name one file (links and `..` resolved), the events log would
    be appended to a model, database, image or video, its folder cannot be written (unless the log itself can be,
    in place), the video could not be written (check_video_file), or the store cannot be opened
    (edge.store.files.check_store_path; `check_store` False: the default store in the service's StateDirectory=,
    which systemd makes, is left to it)."""
    files = output_files(cfg)
    seen: dict[object, str] = {}
    for key, path in files.items():
        names = [path]
        if key == EVENTS_KEY and cfg.output.events_max_mb > 0:  # its rotated files, events.jsonl.1 ... .N
            names += [path.with_name(f"{path.name}.{number}") for number in range(1, cfg.output.events_keep + 1)]
        identities = [identity for name in names for identity in _identities(name)]
        clash = next((seen[identity] for identity in identities if identity in seen), None)
        if clash is not None:
            raise EdgeError(f"{key} {path}", f"the same file as {clash}; give each output its own file")
        seen.update(dict.fromkeys(identities, key))
    events = files.get(EVENTS_KEY)
    if events is not None:
        check_events_log(events)
    if STORE_KEY in files and check_store:
        check_store_path(files[STORE_KEY])
    if VIDEO_KEY in files:
        check_video_file(files[VIDEO_KEY], cfg.source.uri)


def _identities(path: Path) -> list[object]:
    """How `path` is known: its resolved name (links and `..`), and an existing file's device and inode (a hard
    link, another spelling on a case-insensitive stick)."""
    identities: list[object] = [os.path.realpath(path)]
    try:
        info = path.stat()
        identities.append((info.st_dev, info.st_ino))
    except OSError:
        pass  # none yet
    return identities


def check_events_log(path: Path) -> None:
    kind = known_format(path)
    if kind is not None:
        raise EdgeError(f"events log {path}", f"exists and is not a text log ({kind}); the events would be appended "
                                              f"to it: choose another {EVENTS_KEY}")
    problem = path_problem(path)
    if problem:
        raise EdgeError(f"events log {path}", problem)


def check_video_file(path: Path, source_uri: str | None) -> None:
    """The output video's checks that create nothing: a known container, not a folder, not the source video itself,
    a folder this user could write (or make). The sink's own check (edge.sinks.video.check_output) also makes the
    folder and probes OpenCV's writer there, once the run starts."""
    from edge.sinks.video import check_container, refuse_source_as_output

    check_container(path)
    refuse_source_as_output(path, source_uri)
    problem = folder_problem(path.parent)  # the sink's probe file needs the folder, even for a file writable in place
    if problem:
        raise EdgeError(f"output video {path}", problem)
