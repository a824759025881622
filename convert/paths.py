"""Output-path checks done before any slow work, so a typo fails in a second and not after conversion."""

from __future__ import annotations

import tempfile
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
