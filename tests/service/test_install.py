"""The systemd unit verifies; install.sh into a temporary root is idempotent; uninstall keeps the data."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.conftest import REPO

UNIT = REPO / "systemd" / "emotion-edge.service"
DEFAULT_PYTHON = "/opt/emotion-edge/venv/bin/python"
SCRIPT_TIMEOUT_S = 300


def unit_settings() -> dict[str, list[str]]:
    """Key -> every value it is given in the unit (keys such as DeviceAllow repeat)."""
    values: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (bash scripts/test.sh installs the systemd package)")
    rendered = tmp_path / "emotion-edge.service"
    text = UNIT.read_text()
    assert DEFAULT_PYTHON in text
    rendered.write_text(text.replace(DEFAULT_PYTHON, str(Path(sys.executable).resolve())))
    done = subprocess.run([analyze, "verify", str(rendered)], capture_output=True, text=True, timeout=60)
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "emotion-edge" in line]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


def test_unit_has_the_required_service_settings():
    s = unit_settings()
    expected = {"Type": "notify", "Restart": "on-failure", "DynamicUser": "yes", "SupplementaryGroups": "video",
                "StateDirectory": "emotion-edge", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
                "ProtectHome": "yes", "PrivateTmp": "yes", "DevicePolicy": "closed",
                "Environment": "PYTHONUNBUFFERED=1"}
    for key, value in expected.items():
        assert value in s.get(key, []), key
    assert int(s["WatchdogSec"][0]) > 0 and int(s["StartLimitBurst"][0]) > 0
    assert "--config /etc/emotion-edge/config.yaml" in s["ExecStart"][0] and " service " in s["ExecStart"][0]
    assert {"char-video4linux rw", "char-media rw", "char-dma_heap rw"} <= set(s["DeviceAllow"])


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, mode and content hash (or link target)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        info = path.lstat()
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", oct(info.st_mode))
        else:
            out[rel] = ("file", oct(info.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(["bash", str(REPO / "scripts" / name), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=SCRIPT_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_install_twice_gives_the_same_tree_and_uninstall_keeps_data(tmp_path):
    root = tmp_path / "root"
    flags = ["--root", str(root), "--no-systemctl", "--no-apt", "--no-pip", "--pi", "no", "--python", sys.executable]
    script("install.sh", *flags)
    first = tree(root)
    app = root / "opt" / "emotion-edge"
    assert (app / "venv" / "bin" / "python").exists() and (app / "edge" / "service" / "command.py").is_file()
    assert "include-system-site-packages = true" in (app / "venv" / "pyvenv.cfg").read_text()
    assert (root / "etc/systemd/system/emotion-edge.service").read_text() == UNIT.read_text()
    config = root / "etc" / "emotion-edge" / "config.yaml"
    assert 'uri: "0"' in config.read_text()
    launcher = (root / "usr/local/bin/emotion-edge").read_text()
    assert "/opt/emotion-edge/venv/bin/python -P -m edge" in launcher  # -P: not an edge/ in the working folder

    script("install.sh", *flags)
    assert tree(root) == first  # idempotent

    config.write_text(config.read_text() + "# edited by the operator\n")
    script("install.sh", *flags)
    assert config.read_text().endswith("# edited by the operator\n")  # never overwritten

    data = root / "var" / "lib" / "emotion-edge" / "events.db"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"events")
    script("uninstall.sh", "--root", str(root), "--no-systemctl")
    script("uninstall.sh", "--root", str(root), "--no-systemctl")  # twice is fine
    assert not app.exists() and not (root / "etc/systemd/system/emotion-edge.service").exists()
    assert not (root / "usr/local/bin/emotion-edge").exists()
    assert data.read_bytes() == b"events" and config.is_file()
    script("uninstall.sh", "--root", str(root), "--no-systemctl", "--purge")
    assert not data.exists() and not config.exists()


def test_install_with_a_prefix_rewrites_unit_and_config(tmp_path):
    root = tmp_path / "root"
    script("install.sh", "--root", str(root), "--prefix", "/srv/ee", "--no-systemctl", "--no-apt", "--no-pip",
           "--pi", "yes", "--python", sys.executable)
    unit = (root / "etc/systemd/system/emotion-edge.service").read_text()
    assert "ExecStart=/srv/ee/venv/bin/python -m edge service" in unit and "/opt/emotion-edge" not in unit
    config = (root / "etc/emotion-edge/config.yaml").read_text()
    assert "uri: \"picamera2\"" in config and "model: /srv/ee/models/emotion_int8.tflite" in config


def test_install_rejects_bad_arguments(tmp_path):
    done = subprocess.run(["bash", str(REPO / "scripts" / "install.sh"), "--root", str(tmp_path), "--pi", "maybe"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.strip() == "error: --pi maybe: expected yes, no or auto"


MARKER = ".emotion-edge-install"
INSTALLED = ["docs", "edge", "models", "requirements-edge.txt", "venv"]  # what --no-pip puts in the prefix
OFFLINE = ["--no-systemctl", "--no-apt", "--no-pip", "--pi", "no", "--python", sys.executable]


def someone_elses_usr_local(root: Path) -> Path:
    """A /usr/local holding files that are not the install's."""
    usr_local = root / "usr" / "local"
    (usr_local / "lib" / "other").mkdir(parents=True)
    (usr_local / "bin").mkdir()
    (usr_local / "bin" / "someone-elses-tool").write_text("#!/bin/sh\n")
    (usr_local / "lib" / "other" / "data").write_bytes(b"data")
    return usr_local


def test_install_refuses_a_prefix_holding_other_files(tmp_path):
    root = tmp_path / "root"
    someone_elses_usr_local(root)
    before = tree(root)
    done = subprocess.run(["bash", str(REPO / "scripts" / "install.sh"), "--root", str(root), "--prefix", "/usr/local",
                           *OFFLINE], cwd=REPO, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == ("error: --prefix /usr/local: not empty and not an emotion-edge install "
                                   f"(no {MARKER}, no edge/ and venv/); use a new or empty folder, "
                                   "e.g. /usr/local/emotion-edge")
    assert tree(root) == before  # refused before changing anything


def test_uninstall_leaves_a_prefix_that_is_not_an_install_alone(tmp_path):
    root = tmp_path / "root"
    usr_local = someone_elses_usr_local(root)
    before = tree(root)
    done = script("uninstall.sh", "--root", str(root), "--prefix", "/usr/local")
    assert tree(root) == before
    assert f"uninstall: left {usr_local} alone: not an emotion-edge install" in done.stdout
    script("uninstall.sh", "--root", str(root), "--prefix", "/usr/local", "--purge")
    assert tree(root) == before


def test_install_and_uninstall_with_a_prefix_touch_only_their_entries(tmp_path):
    root = tmp_path / "root"
    app = root / "srv" / "ee"
    flags = ["--root", str(root), "--prefix", "/srv/ee", *OFFLINE]
    script("install.sh", *flags)
    assert sorted(p.name for p in app.iterdir()) == sorted([*INSTALLED, MARKER])
    listed = [line for line in (app / MARKER).read_text().splitlines() if not line.startswith("#")]
    assert set(INSTALLED) <= set(listed)

    script("uninstall.sh", "--root", str(root), "--prefix", "/srv/ee")
    assert not app.exists() and (root / "srv").is_dir()  # the folder goes once it is empty
    script("uninstall.sh", "--root", str(root), "--prefix", "/srv/ee")  # twice is fine

    script("install.sh", *flags)
    (app / "notes.txt").write_text("the operator's")
    done = script("uninstall.sh", "--root", str(root), "--prefix", "/srv/ee")
    assert [p.name for p in app.iterdir()] == ["notes.txt"]  # only what the install put there went
    assert f"uninstall: kept {app}: it holds files the install did not put there" in done.stdout


def test_install_accepts_an_empty_prefix_and_an_install_older_than_the_marker(tmp_path):
    root = tmp_path / "root"
    app = root / "srv" / "ee"
    app.mkdir(parents=True)
    flags = ["--root", str(root), "--prefix", "/srv/ee", *OFFLINE]
    script("install.sh", *flags)
    assert (app / MARKER).is_file() and (app / "edge" / "service" / "command.py").is_file()

    (app / MARKER).unlink()  # the layout of an earlier install (edge/ and venv/, no marker) is one too
    (app / "notes.txt").write_text("the operator's")
    script("install.sh", *flags)
    assert (app / MARKER).is_file()
    (app / MARKER).unlink()
    script("uninstall.sh", "--root", str(root), "--prefix", "/srv/ee")
    assert [p.name for p in app.iterdir()] == ["notes.txt"]


FAKE_SYSTEMCTL = r"""#!/bin/bash
# systemctl for one unit whose state moves through $FAKE_STATES, one step per poll (is-failed, then
# is-active); logs every call
echo "systemctl $*" >> "$FAKE_LOG"
read -r -a states <<< "$FAKE_STATES"
n=$(cat "$FAKE_COUNT" 2>/dev/null || echo 0)
state=${states[$(( n < ${#states[@]} ? n : ${#states[@]} - 1 ))]}
case $1 in
  is-failed) [ "$state" = failed ] ;;
  is-active) echo $((n + 1)) > "$FAKE_COUNT"; echo "$state"; [ "$state" = active ] ;;
  status) echo "x emotion-edge.service - Emotion recognition"; echo "     Active: $state"
          [ "$state" = failed ] && exit 3 || exit 0 ;;
esac
"""
FAKE_JOURNALCTL = r"""#!/bin/bash
echo "journalctl $*" >> "$FAKE_LOG"
echo "python[42]: error: config /etc/emotion-edge/config.yaml: bogus: unknown key"
"""
START_WAIT_S = 1  # instead of install.sh's 10 s


def start_unit(tmp_path: Path, states: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """install.sh's start step (scripts/_service.sh, under install.sh's shell options) with a fake systemd whose
    unit goes through `states`: systemd cannot run in this container."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("systemctl", FAKE_SYSTEMCTL), ("journalctl", FAKE_JOURNALCTL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_STATES": states,
           "FAKE_LOG": str(log), "FAKE_COUNT": str(tmp_path / "count")}
    code = f"set -euo pipefail; source scripts/_service.sh; service_start emotion-edge.service {START_WAIT_S}"
    done = subprocess.run(["bash", "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    return done, log.read_text().splitlines()


def test_install_reports_a_unit_that_fails_at_once(tmp_path):
    """A restart without blocking returns before the unit fails (exit 2: bad config): the install watches it and
    exits 1 with its status and log, not 'done'."""
    done, calls = start_unit(tmp_path, "activating failed")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "install: done" not in done.stdout
    assert "Active: failed" in done.stderr and "error: config /etc/emotion-edge/config.yaml: bogus" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: emotion-edge.service failed to start")
    assert calls[:2] == ["systemctl reset-failed emotion-edge.service",  # an earlier failure is not this one's
                         "systemctl restart --no-block emotion-edge.service"]


def test_install_accepts_a_unit_still_waiting_for_the_camera(tmp_path):
    done, _ = start_unit(tmp_path, "activating")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('install: done; the service is still starting ("activating" after 1 s')
    assert "systemctl status emotion-edge" in done.stdout and not done.stderr


def test_install_says_when_the_unit_runs(tmp_path):
    done, calls = start_unit(tmp_path, "activating active")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("install: done; the service is running")
    assert sum(call.startswith("systemctl is-failed") for call in calls) == 2  # stops watching once it runs
