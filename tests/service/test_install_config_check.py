"""install.sh checks a kept configuration with the code being installed before it changes anything: an invalid one
is one `error: config ...` line (no traceback), exit 2, and the installed version stays as it was. uninstall.sh run
again over nothing says so, and --purge names only what it deletes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest
import yaml

from tests.service.conftest import REPO
from tests.service.test_install import OFFLINE, SCRIPT_TIMEOUT_S, script, tree

APP = Path("opt/emotion-edge")
CONFIG = Path("etc/emotion-edge/config.yaml")
BAD_KEY = "store.retention_dayz: Extra inputs are not permitted"
OLD_CODE = "# the installed version's code\n"
# As OFFLINE, but with the pip step: its requirements are met by the packages the venv is given (with_requirements)
PIP = [flag for flag in OFFLINE if flag != "--no-pip"]


def run(name: str, *args: str) -> subprocess.CompletedProcess:
    """A script that may fail (script() asserts success)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(["bash", str(REPO / "scripts" / name), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=SCRIPT_TIMEOUT_S)


def with_requirements(root: Path) -> None:
    """Give the staged venv the test environment's packages (a .pth file), as pip would have installed them: the
    configuration check runs there, and a pip step finds its requirements met, offline."""
    folders = {str(Path(module.__file__).resolve().parents[1]) for module in (pydantic, yaml)}
    (site,) = (root / APP / "venv" / "lib").glob("python3*/site-packages")
    (site / "test_requirements.pth").write_text("".join(f"{folder}\n" for folder in sorted(folders)))


def snapshot(root: Path) -> dict[str, tuple]:
    """tree() plus every file's modification time: a file replaced by an identical copy shows too."""
    return {rel: (*info, (root / rel).lstat().st_mtime_ns) for rel, info in tree(root).items()}


def break_config(root: Path) -> Path:
    config = root / CONFIG
    text = config.read_text()
    assert "\nstore:\n" in text
    config.write_text(text.replace("\nstore:\n", "\nstore:\n  retention_dayz: 3\n"))
    return config


ADVICE = "fix it and run the install again"
BEFORE = f"{ADVICE}; nothing was changed"  # the check before anything is changed (an installed venv checks it)


def assert_one_error_line(done: subprocess.CompletedProcess, config: Path, advice: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [f"error: config {config}: {BAD_KEY}; {advice}"]


@pytest.mark.parametrize("flags", [PIP, OFFLINE], ids=["pip", "no-pip"])
def test_an_upgrade_over_an_invalid_kept_config_stops_before_changing_anything(tmp_path, flags):
    root = tmp_path / "root"
    script("install.sh", "--root", str(root), *OFFLINE)
    with_requirements(root)
    installed = root / APP / "edge" / "config.py"
    installed.write_text(installed.read_text() + OLD_CODE)  # the installed version, older than the repo's
    config = break_config(root)
    before = snapshot(root)

    done = run("install.sh", "--root", str(root), *flags)
    assert_one_error_line(done, config, BEFORE)
    assert "install: application" not in done.stdout  # stopped before the prefix folder
    assert snapshot(root) == before  # the old install (code, marker, venv, unit) untouched
    assert installed.read_text().endswith(OLD_CODE)

    config.write_text(config.read_text().replace("  retention_dayz: 3\n", ""))  # fixed: the upgrade goes on
    done = script("install.sh", "--root", str(root), *flags)
    assert f"install: checking the kept {config} with the new code" in done.stdout
    assert not installed.read_text().endswith(OLD_CODE)


def test_the_check_ignores_an_edge_package_on_the_callers_path(tmp_path):
    """PYTHONPATH from the caller's shell (sudo -E) naming another edge/ does not change what checks the config."""
    root = tmp_path / "root"
    script("install.sh", "--root", str(root), *OFFLINE)
    with_requirements(root)
    config = break_config(root)
    fake = tmp_path / "other" / "edge"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "config.py").write_text("def load_config(path):\n    pass  # accepts anything\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    done = subprocess.run(["bash", str(REPO / "scripts" / "install.sh"), "--root", str(root), *OFFLINE],
                          cwd=fake.parent, env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
    assert_one_error_line(done, config, BEFORE)


def test_a_first_install_over_a_kept_invalid_config_is_one_error_line(tmp_path):
    """After an uninstall that kept the configuration there is no venv to check it before: it is checked once the
    venv is made, before the unit and the command are written."""
    root = tmp_path / "root"
    script("install.sh", "--root", str(root), *OFFLINE)
    script("uninstall.sh", "--root", str(root))
    config = break_config(root)
    done = run("install.sh", "--root", str(root), *OFFLINE)
    if "configuration not checked" in done.stdout:
        pytest.skip("this Python's venv has no pydantic and PyYAML: --no-pip cannot check the config")
    assert_one_error_line(done, config, ADVICE)
    assert not (root / "etc/systemd/system/emotion-edge.service").exists()
    assert not (root / "usr/local/bin/emotion-edge").exists()


def operator_model(root: Path) -> None:
    (root / APP / "models" / "my_model.tflite").write_bytes(b"the operator's own model")


@pytest.mark.parametrize("keep", [True, False], ids=["operator-files-kept", "clean"])
def test_a_second_purge_says_nothing_is_installed(tmp_path, keep):
    root = tmp_path / "root"
    script("install.sh", "--root", str(root), *OFFLINE)
    if keep:
        operator_model(root)
    store = root / "var/lib/emotion-edge/events.db"
    store.parent.mkdir(parents=True)
    store.write_bytes(b"events")

    first = script("uninstall.sh", "--root", str(root), "--purge").stdout.splitlines()
    assert f"uninstall: --purge: deleting the configuration {root}/etc/emotion-edge" in first
    assert f"uninstall: --purge: deleting the event store {root}/var/lib/emotion-edge" in first
    assert (root / APP).exists() == keep
    before = snapshot(root)

    again = script("uninstall.sh", "--root", str(root), "--purge").stdout.splitlines()
    nothing = (f"uninstall: nothing to do: emotion-edge is not installed in {root} (no unit, command, install in "
               f"{root / APP}, configuration or event store)")
    kept = (f"uninstall: left {root / APP} as it is: only files the install did not put there "
            "(what an uninstall keeps)")
    assert again == ([kept, nothing] if keep else [nothing])
    assert snapshot(root) == before


def test_purge_names_only_what_is_there(tmp_path):
    root = tmp_path / "root"
    script("install.sh", "--root", str(root), *OFFLINE)
    script("uninstall.sh", "--root", str(root))  # keeps the configuration; there was no event store
    done = script("uninstall.sh", "--root", str(root), "--purge")
    deleting = [line for line in done.stdout.splitlines() if "deleting" in line]
    assert deleting == [f"uninstall: --purge: deleting the configuration {root}/etc/emotion-edge"]
    assert not (root / "etc/emotion-edge").exists()
