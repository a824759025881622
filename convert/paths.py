"""Output-path checks done before any slow work, so a typo fails in a second and not after conversion."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from convert.errors import ConvertError


def ensure_writable(path: Path, suffix: str) -> Path:
    """Create the parent folder if needed and prove we may write there; returns the path unchanged."""
    if path.suffix.lower() != suffix:
        raise ConvertError(path, f"expected a {suffix} file name")
    if path.is_dir():
        raise ConvertError(path, "is a directory, expected a file name")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConvertError(path, f"cannot create its folder ({exc.strerror or exc})") from None
    try:  # a real probe: os.access says yes to root even on read-only mounts
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".write-probe-"):
            pass
    except OSError as exc:
        raise ConvertError(path, f"not writable ({exc.strerror or exc})") from None
    return path


def missing_folders(path: Path) -> list[Path]:
    """The folders above `path` that do not exist yet, deepest first (what ensure_writable would create)."""
    return [folder for folder in path.parents if not _exists(folder)]


def _exists(folder: Path) -> bool:
    try:
        return folder.exists()
    except OSError:  # e.g. a parent this user may not enter: not a folder of ours (ensure_writable reports it)
        return True


@contextmanager
def folders_removed_on_failure(*paths: Path | None) -> Iterator[None]:
    """On an exception in the block, remove the folders above `paths` that did not exist when it began and are
    still empty: a run that fails (bad run folder, dataset, model) leaves no new empty --out folder behind, while
    anything written there (a rejected model kept for inspection) stays."""
    new = sorted({folder for path in paths if path is not None for folder in missing_folders(path)},
                 key=lambda folder: len(folder.parts), reverse=True)
    try:
        yield
    except BaseException:
        for folder in new:
            with suppress(OSError):  # not empty, or never created
                folder.rmdir()
        raise
