"""Whole-or-nothing file writing for the command-line outputs: `python -m edge report`'s PNG, CSV and JSON
files and `python -m edge.bench --json`.

A file is written through a partial file beside it and renamed over the real name only once complete, so a full
card, a Ctrl-C or a failed write leaves the previous file (or none), never a truncated one. Kept apart from the
reports so that the benchmark can use it without importing them."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from edge.errors import EdgeError

PERMISSION_BITS = 0o7777
STDOUT_PATH = Path("-")  # `--csv -` / `--json -`: the export goes to stdout (and the table to stderr)
PARTIAL_SUFFIX = ".part"  # an export being written; renamed over the real name once complete


def file_in_the_way(folder: Path) -> Path | None:
    """The nearest of `folder` and its parents that exists, when it is not a folder (a file stands where a folder
    should be), else None."""
    nearest = next((existing for existing in (folder, *folder.parents) if existing.exists()), None)
    return nearest if nearest is not None and not nearest.is_dir() else None


def write_problem(path: Path, exc: OSError) -> str:
    """Why `path` cannot be written, naming a file that stands where a folder should be (`--csv day.csv/x.csv`
    says more than "File exists")."""
    blocker = file_in_the_way(path.parent)
    return f"cannot write ({blocker} is a file, not a folder)" if blocker else f"cannot write ({exc.strerror or exc})"


def folder_problem(folder: Path) -> str | None:
    """Why files could not be written in `folder`, made first if missing, found without creating anything (judged
    from the nearest existing folder: a file on the way, no permission, a read-only file system); None if they could."""
    blocker = file_in_the_way(folder)
    if blocker is not None:
        return f"cannot write ({blocker} is a file, not a folder)"
    from edge.store.files import mkdir_errno, new_entry_errno

    code = new_entry_errno(folder) if folder.is_dir() else mkdir_errno(folder)
    return None if code is None else f"cannot write ({os.strerror(code)})"


def path_problem(path: Path) -> str | None:
    """Why `path` could not be written, found without creating anything, or None: an existing file, link, device or
    pipe this user may write is written in place, whatever its folder allows (`/dev/stdout`, a log kept in a
    root-owned folder); anything else needs its folder (folder_problem)."""
    if path.exists() and os.access(path, os.W_OK):
        return None
    return folder_problem(path.parent)


def check_writable(path: Path, flag: str) -> None:
    """EdgeError unless `path` could be written: not a folder, and path_problem finds nothing. For a command that
    writes several files: each is checked before the first is written, so a bad last one does not leave the others
    written and unreported."""
    if is_stdout(path):
        return
    if path.is_dir():
        raise EdgeError(f"{flag} {path}", "is a folder; give a file name")
    problem = path_problem(path)
    if problem:
        raise EdgeError(f"{flag} {path}", problem)


def _stageable(path: Path) -> bool:
    """Whether `path` can be replaced by a rename: a new name, or a regular file that is not a link, in a folder
    this user may write. A link (`/dev/stdout` redirected to a file, a link to the real export), a device, a
    pipe or a file in a folder only the file is writable in is written in place."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return False
    folder = next((parent for parent in path.parents if parent.exists()), Path("."))
    return os.access(folder, os.W_OK)


def _keep_owner_and_mode(partial: Path, path: Path) -> None:
    """The replaced export's mode and owner onto its replacement (a private 0600 export stays private)."""
    try:
        earlier = path.stat()
    except FileNotFoundError:
        return
    os.chmod(partial, earlier.st_mode & PERMISSION_BITS)
    with contextlib.suppress(PermissionError):  # only root may give a file away
        os.chown(partial, earlier.st_uid, earlier.st_gid)


def is_stdout(path: Path | None) -> bool:
    return path == STDOUT_PATH


@contextlib.contextmanager
def staged(path: Path, flag: str, mode: str = "w", **open_args) -> Iterator[IO]:
    """Write `path` through a partial file beside it, renamed over `path` only once complete: a full card, an
    interrupted or failed export leaves the previous file (or none), never a truncated one. What cannot be
    replaced by a rename (see _stageable) is written in place; `-` is stdout."""
    if is_stdout(path):
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise EdgeError(f"{flag} -", f"cannot write to stdout ({exc.strerror or exc})") from None
        return
    if not _stageable(path):
        try:
            with path.open(mode, **open_args) as handle:
                yield handle
        except OSError as exc:
            raise EdgeError(f"{flag} {path}", write_problem(path, exc)) from None
        return
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open(mode, **open_args) as handle:
            yield handle
        _keep_owner_and_mode(partial, path)
        os.replace(partial, path)
    except OSError as exc:
        _remove_partial(partial)
        raise EdgeError(f"{flag} {path}", write_problem(path, exc)) from None
    except BaseException:
        _remove_partial(partial)
        raise


def _remove_partial(partial: Path) -> None:
    with contextlib.suppress(OSError):  # none was created (no folder), or it cannot go: the real name is untouched
        partial.unlink(missing_ok=True)
