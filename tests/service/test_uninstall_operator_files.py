"""The operator's files in the install's models/ and docs/ (their own model, notes) survive uninstall.sh and a second
install.sh: only the files an install put there, unchanged, go, and each folder only if that leaves it empty."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.service.test_install import MARKER, OFFLINE, script

APP = "opt/emotion-edge"  # the default prefix, under --root
FOLDERS = ("models", "docs")
OPERATOR = {"models/my_model.tflite": b"the operator's own model", "docs/notes.md": b"# the operator's notes\n"}
CHANGED = "docs/SERVICE.md"  # a file the install ships, changed by the operator (as their own emotion_int8.tflite)
CHANGED_DATA = b"the operator's version\n"


def kept_line(folder: Path) -> str:
    return f"uninstall: kept {folder}: it holds files the install did not put there"


def folder_files(app: Path) -> dict[str, bytes]:
    """models/NAME and docs/NAME -> content, for every file in the app's models/ and docs/."""
    return {f"{folder}/{path.name}": path.read_bytes() for folder in FOLDERS if (app / folder).is_dir()
            for path in sorted((app / folder).iterdir())}


def listed_files(app: Path) -> dict[str, str]:
    """The marker's "file SHA256 PATH" lines as PATH -> SHA256."""
    lines = [line.split(" ", 2) for line in (app / MARKER).read_text().splitlines() if line.startswith("file ")]
    return {path: digest for _, digest, path in lines}


def add_operator_files(app: Path) -> None:
    for path, data in OPERATOR.items():
        (app / path).write_bytes(data)


def uninstall(root: Path):
    return script("uninstall.sh", "--root", str(root), "--no-systemctl")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """One clean offline install (each test works on a copy) and the files it put in models/ and docs/."""
    root = tmp_path_factory.mktemp("installed") / "root"
    script("install.sh", "--root", str(root), *OFFLINE)
    files = folder_files(root / APP)
    assert {"docs/SERVICE.md", "docs/DISPLAY.md"} <= set(files)
    return root, files


@pytest.fixture
def root(installed, tmp_path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(installed[0], copy, symlinks=True)
    return copy


def test_uninstall_keeps_the_operators_files_and_names_the_kept_folders(root):
    app = root / APP
    add_operator_files(app)
    done = uninstall(root)
    assert folder_files(app) == OPERATOR  # every file the install put there went, the operator's stayed
    assert sorted(path.name for path in app.iterdir()) == sorted(FOLDERS)  # edge/, venv/, the marker went
    for folder in FOLDERS:
        assert kept_line(app / folder) in done.stdout
    uninstall(root)  # twice is fine
    assert folder_files(app) == OPERATOR


def test_the_marker_lists_the_installed_files_and_a_clean_uninstall_leaves_no_folder(root, installed):
    app = root / APP
    assert listed_files(app) == {path: hashlib.sha256(data).hexdigest() for path, data in installed[1].items()}
    done = uninstall(root)
    assert not app.exists() and f"kept {app}" not in done.stdout


def test_a_second_install_keeps_the_operators_files_even_under_a_shipped_name(root, installed):
    app = root / APP
    add_operator_files(app)
    (app / CHANGED).write_bytes(CHANGED_DATA)
    done = script("install.sh", "--root", str(root), *OFFLINE)
    assert f"install: warning: kept {app / CHANGED}: not the file an install put there" in done.stderr
    files = folder_files(app)
    assert set(files) == set(installed[1]) | set(OPERATOR)
    assert {path: files[path] for path in [*OPERATOR, CHANGED]} == {**OPERATOR, CHANGED: CHANGED_DATA}

    done = uninstall(root)
    assert folder_files(app) == {**OPERATOR, CHANGED: CHANGED_DATA}  # changed since the install: not its file now
    for folder in FOLDERS:
        assert kept_line(app / folder) in done.stdout

    script("install.sh", "--root", str(root), *OFFLINE)  # into what the uninstall kept: accepted, nothing taken
    assert {path: (app / path).read_bytes() for path in [*OPERATOR, CHANGED]} == {**OPERATOR, CHANGED: CHANGED_DATA}
    uninstall(root)
    assert folder_files(app) == {**OPERATOR, CHANGED: CHANGED_DATA}


def make_older_than_the_file_list(app: Path, marker: str) -> None:
    """The marker of an install from before the file list (the entries only), or none (edge/ and venv/ only)."""
    if marker == "none":
        (app / MARKER).unlink()
        return
    lines = (app / MARKER).read_text().splitlines()
    (app / MARKER).write_text("".join(f"{line}\n" for line in lines
                                      if not line.startswith("file ") and line != "listed-files"))


@pytest.mark.parametrize("marker", ["entries only", "none"])
def test_uninstall_of_an_install_older_than_the_file_list_removes_only_shipped_names(root, marker):
    app = root / APP
    make_older_than_the_file_list(app, marker)
    add_operator_files(app)
    done = uninstall(root)
    assert folder_files(app) == OPERATOR  # the names the repo ships went, never another file
    for folder in FOLDERS:
        assert kept_line(app / folder) in done.stdout


def test_a_second_install_over_one_older_than_the_file_list_lists_only_its_files(root, installed):
    app = root / APP
    make_older_than_the_file_list(app, "entries only")
    add_operator_files(app)
    script("install.sh", "--root", str(root), *OFFLINE)
    assert set(listed_files(app)) == set(installed[1])  # the shipped names, not the operator's files
    assert {path: (app / path).read_bytes() for path in OPERATOR} == OPERATOR
    uninstall(root)
    assert folder_files(app) == OPERATOR
