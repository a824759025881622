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
from edge.detectors import TFLITE_IDENTIFIER, TFLITE_IDENTIFIER_AT
from edge.errors import EdgeError
from edge.staged import path_problem
from edge.store.files import SQLITE_HEADER, check_store_path

EVENTS_KEY = "output.events_file"
STORE_KEY = "store.path"
VIDEO_KEY = "output.video"
# How the files an events log must never be appended to begin: (offset, bytes). Only known formats: a log torn by a
# power cut may hold NUL bytes, and the events sink goes on after its torn last line.
BINARY_SIGNATURES = (
    (0, SQLITE_HEADER),  # a database (the event store)
    (TFLITE_IDENTIFIER_AT.start, TFLITE_IDENTIFIER),  # a TFLite model
    (0, b"PK\x03\x04"),  # a zip: a .keras model
    (0, b"\x89HDF"),  # an HDF5 (.h5) model
    (4, b"ftyp"),  # an MP4 / MOV video
    (0, b"RIFF"),  # an AVI video
    (0, b"\x1aE\xdf\xa3"),  # a Matroska (.mkv) video
    (0, b"\x89PNG"),  # an image
    (0, b"\xff\xd8\xff"),  # a JPEG
)
SIGNATURE_BYTES = max(offset + len(magic) for offset, magic in BINARY_SIGNATURES)


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
    in place), or the store cannot be opened (edge.store.files.check_store_path; `check_store` False: the default
    store in the service's StateDirectory=, which systemd makes, is left to it)."""
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
    if _starts_like_a_binary_file(path):
        raise EdgeError(f"events log {path}", "exists and is not a text log (it starts like a model, database, "
                                              f"image or video); the events would be appended to it: choose "
                                              f"another {EVENTS_KEY}")
    problem = path_problem(path)
    if problem:
        raise EdgeError(f"events log {path}", problem)


def _starts_like_a_binary_file(path: Path) -> bool:
    try:
        if not path.is_file():
            return False  # none yet, or a device, pipe or folder (the sink reports those)
        with path.open("rb") as handle:
            head = handle.read(SIGNATURE_BYTES)
    except OSError:
        return False  # unreadable: opening the log reports it
    return any(head[offset:offset + len(magic)] == magic for offset, magic in BINARY_SIGNATURES)
