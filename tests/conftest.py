"""Fixtures shared by every test folder: the repository, the interpreter, the shipped emotion model."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = REPO / "models" / "emotion_int8.tflite"
# Override only for local development with another model; CI uses the shipped one.
MODEL_OVERRIDE_ENV = "EDGE_TEST_MODEL"


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def emotion_model() -> Path:
    """The shipped int8 model with its sidecar (or $EDGE_TEST_MODEL)."""
    path = Path(os.environ.get(MODEL_OVERRIDE_ENV) or SHIPPED_MODEL)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        pytest.skip(f"emotion model {path} (+ .json sidecar) absent: run `python -m convert` first")
    return path


@pytest.fixture
def deny_access(monkeypatch):
    """`deny(path)`: from then on this process gets EACCES for `path` as a user without the rights would.

    The tests run as root, whom chmod denies nothing, so the calls that reach the kernel (os.stat, os.listdir,
    os.scandir, io.open, which pathlib uses) raise PermissionError instead: for a folder, listing it and looking at
    or opening anything under it (a mode-0700 folder of another user, like /var/lib/private); for a file, opening
    it (mode 0600, another user's). Everything else passes through to the real call.
    """
    import errno
    import io

    folders: list[str] = []
    files: list[str] = []
    real = {"stat": os.stat, "listdir": os.listdir, "scandir": os.scandir, "open": io.open}

    def absolute(path) -> str | None:  # noqa: ANN001 - a path argument of the os calls (or an fd)
        if isinstance(path, int):
            return None
        return os.path.abspath(os.fsdecode(path))

    def inside(path: str | None) -> bool:
        return path is not None and any(path.startswith(folder + os.sep) for folder in folders)

    def refuse(path: str) -> PermissionError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    def stat(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - os.stat's signature
        if inside(absolute(path)):
            raise refuse(absolute(path))
        return real["stat"](path, *args, **kwargs)

    def lister(name: str):  # noqa: ANN202
        def listing(path=".", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
            where = absolute(path)
            if where is not None and (where in folders or inside(where)):
                raise refuse(where)
            return real[name](path, *args, **kwargs)
        return listing

    def opener(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - io.open's signature
        where = absolute(path)
        if inside(where) or where in files:
            raise refuse(where)
        return real["open"](path, *args, **kwargs)

    def deny(path: Path) -> None:
        target = os.path.abspath(path)
        (folders if os.path.isdir(target) else files).append(target)
        monkeypatch.setattr(os, "stat", stat)
        monkeypatch.setattr(os, "listdir", lister("listdir"))
        monkeypatch.setattr(os, "scandir", lister("scandir"))
        monkeypatch.setattr(io, "open", opener)

    return deny
