"""docs/DISPLAY.md follows the rule of the install's other docs (tests.service.test_uninstall_operator_files): the
marker lists it as "file SHA256 PATH", and an upgrade keeps a copy the operator edited instead of overwriting it."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.service.conftest import REPO
from tests.service.test_install import OFFLINE, script
from tests.service.test_uninstall_operator_files import APP, folder_files, listed_files, uninstall

DOC = "docs/DISPLAY.md"
EDITED = b"# DISPLAY.md, with the operator's notes on this site's screen\n"
SHIPPED_SHA = hashlib.sha256((REPO / DOC).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """One clean offline install; each test works on a copy."""
    root = tmp_path_factory.mktemp("display_doc") / "root"
    script("install.sh", "--root", str(root), *OFFLINE)
    return root


@pytest.fixture
def root(installed, tmp_path) -> Path:
    copy = tmp_path / "root"
    shutil.copytree(installed, copy, symlinks=True)
    return copy


def upgrade_over_an_edited_doc(root: Path, *flags: str) -> str:
    """Edit the installed DISPLAY.md, install again with `flags`; install.sh's stderr."""
    (root / APP / DOC).write_bytes(EDITED)
    return script("install.sh", "--root", str(root), *OFFLINE, *flags).stderr


@pytest.mark.parametrize("display", ["none", "framebuffer"])
def test_an_upgrade_keeps_an_edited_display_doc_and_says_so(root, display):
    app = root / APP
    assert listed_files(app)[DOC] == SHIPPED_SHA  # listed as the install's, like docs/SERVICE.md
    stderr = upgrade_over_an_edited_doc(root, "--display", display)
    assert f"install: warning: kept {app / DOC}: not the file an install put there" in stderr
    assert (app / DOC).read_bytes() == EDITED


def test_a_kept_display_doc_is_never_taken_for_the_installs(root):
    """The marker keeps the shipped file's sha256 for it, so an uninstall keeps the edited copy and a later install
    (into what the uninstall kept) does not overwrite it either."""
    app = root / APP
    upgrade_over_an_edited_doc(root)
    assert listed_files(app)[DOC] == SHIPPED_SHA
    uninstall(root)
    assert folder_files(app) == {DOC: EDITED}
    script("install.sh", "--root", str(root), *OFFLINE)
    assert (app / DOC).read_bytes() == EDITED
