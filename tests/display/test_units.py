"""The display's systemd files verify, the user unit's command line runs the display, and install.sh --display
installs, switches and removes the files of each mode."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.display.conftest import REPO, edge_env, wait_for
from tests.display.test_run import MIN_LABEL_PIXELS, label_pixels
from tests.service.test_install import tree

SYSTEMD = REPO / "systemd"
USER_UNIT = SYSTEMD / "emotion-edge-display.service"
SYSTEM_UNIT = SYSTEMD / "emotion-edge.service"
DROPIN = SYSTEMD / "emotion-edge.service.d" / "display-framebuffer.conf"
AUTOSTART = SYSTEMD / "emotion-edge-display.desktop"
DEFAULT_PYTHON = "/opt/emotion-edge/venv/bin/python"
RUN_TIMEOUT_S = 180
SCRIPT_TIMEOUT_S = 300


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze not installed (bash scripts/test.sh installs the systemd package)")
    return found


def rendered(source: Path, dest: Path) -> Path:
    """A copy whose ExecStart runs this interpreter (verify insists on an existing executable)."""
    text = source.read_text()
    assert DEFAULT_PYTHON in text
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text.replace(DEFAULT_PYTHON, str(Path(sys.executable).resolve())))
    return dest


def verify(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([analyze(), *args], capture_output=True, text=True, timeout=60, env=env)
    output = done.stdout + done.stderr
    ours = [line for line in output.splitlines() if "emotion-edge" in line or "display-framebuffer" in line]
    assert done.returncode == 0 and not ours, output
    return output


def exec_start(unit: Path) -> list[str]:
    lines = [line.partition("=")[2] for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return shlex.split([line for line in lines if line][-1])


def test_user_unit_passes_systemd_analyze_verify_user(tmp_path):
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    unit = rendered(USER_UNIT, tmp_path / "units" / USER_UNIT.name)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path / "home")}
    verify("--user", "verify", str(unit), env=env)
    text = USER_UNIT.read_text()
    assert "WantedBy=graphical-session.target" in text and "PartOf=graphical-session.target" in text
    assert "--display.mode fullscreen" in text and "Type=notify" in text


def test_system_unit_with_framebuffer_dropin_passes_verify(tmp_path):
    unit = rendered(SYSTEM_UNIT, tmp_path / SYSTEM_UNIT.name)
    dropin = rendered(DROPIN, tmp_path / "emotion-edge.service.d" / DROPIN.name)
    dropin.write_text(dropin.read_text() + "NoSuchSetting=1\n")  # proves the drop-in is read at all...
    with pytest.raises(AssertionError, match="NoSuchSetting"):
        verify("verify", str(unit))
    rendered(DROPIN, dropin)  # ...and then passes as shipped
    verify("verify", str(unit))
    args = exec_start(DROPIN)
    assert args[:4] == [DEFAULT_PYTHON, "-m", "edge", "service"] and args[-2:] == ["--display.mode", "framebuffer"]
    assert "DeviceAllow=char-fb rw" in DROPIN.read_text()


def test_autostart_entry_imports_the_session_and_starts_the_unit():
    entry = configparser.ConfigParser(interpolation=None)
    entry.read_string(AUTOSTART.read_text())
    command = entry["Desktop Entry"]["Exec"]
    assert "systemctl --user import-environment DISPLAY" in command
    assert command.rstrip("'").endswith("systemctl --user start emotion-edge-display.service")


def test_user_unit_command_line_shows_the_display_and_logs(service_model, xvfb, tmp_path):
    """The unit's ExecStart as systemd would run it (%S expanded), on the demo clip instead of a camera."""
    config = tmp_path / "config.yaml"
    config.write_text((SYSTEMD / "config.yaml").read_text().replace("@SOURCE@", "demo"))
    state = tmp_path / "state"
    args = [arg.replace("%S", str(state)) for arg in exec_start(USER_UNIT)]
    args = [sys.executable, *args[1:]]
    args[args.index("/etc/emotion-edge/config.yaml")] = str(config)
    args += ["--model", str(service_model), "--detector", "haar", "--loop", "--interval", "0"]
    out = tmp_path / "stdout.log"
    with out.open("w") as log:
        proc = subprocess.Popen(args, cwd=REPO, env=edge_env(DISPLAY=xvfb.display), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: "display: fullscreen 1280x720" in out.read_text() or proc.poll() is not None,
                     RUN_TIMEOUT_S, "the display")
            wait_for(lambda: label_pixels(xvfb.screenshot()) > MIN_LABEL_PIXELS or proc.poll() is not None,
                     RUN_TIMEOUT_S, "the overlay on the screen")
            assert proc.poll() is None, out.read_text()[-3000:]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=RUN_TIMEOUT_S)
    text = out.read_text()
    assert proc.returncode == 0 and "display lost" not in text, text[-3000:]
    assert (state / "emotion-edge" / "events.db").is_file() and ", 0 dropped" in text


def script(name: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "SUDO_USER")}
    done = subprocess.run(["bash", str(REPO / "scripts" / name), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=SCRIPT_TIMEOUT_S)
    if ok:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_install_display_modes_switch_and_uninstall(tmp_path):
    root = tmp_path / "root"
    flags = ["--root", str(root), "--prefix", "/srv/ee", "--no-apt", "--no-pip", "--pi", "no",
             "--python", sys.executable]
    user_unit = root / "etc/systemd/user/emotion-edge-display.service"
    wants = root / "etc/systemd/user/graphical-session.target.wants/emotion-edge-display.service"
    autostart = root / "etc/xdg/autostart/emotion-edge-display.desktop"
    dropin = root / "etc/systemd/system/emotion-edge.service.d/display-framebuffer.conf"

    script("install.sh", *flags, "--display", "desktop")
    first = tree(root)
    assert "ExecStart=/srv/ee/venv/bin/python -m edge service" in user_unit.read_text()
    assert "/opt/emotion-edge" not in user_unit.read_text()
    assert os.readlink(wants) == "/etc/systemd/user/emotion-edge-display.service"
    assert autostart.read_text() == AUTOSTART.read_text() and not dropin.exists()
    assert (root / "srv/ee/docs/DISPLAY.md").is_file()
    script("install.sh", *flags, "--display", "desktop")
    assert tree(root) == first  # idempotent
    script("install.sh", *flags)  # an update without --display keeps the desktop display
    assert tree(root) == first

    script("install.sh", *flags, "--display", "framebuffer")
    assert not user_unit.exists() and not wants.exists() and not autostart.exists()
    assert "ExecStart=/srv/ee/venv/bin/python -m edge service --config /etc/emotion-edge/config.yaml " \
           "--display.mode framebuffer" in dropin.read_text()

    kept = script("install.sh", *flags)  # run again to update: the installed mode stays
    assert "install: display: keeping the installed mode framebuffer (--display none removes it)" in kept.stdout
    assert "--display.mode framebuffer" in dropin.read_text() and not user_unit.exists()

    script("install.sh", *flags, "--display", "none")
    assert not dropin.exists() and not dropin.parent.exists()
    script("install.sh", *flags)  # nothing installed to keep: no display
    assert not dropin.exists() and not user_unit.exists()

    script("install.sh", *flags, "--display", "desktop")
    done = script("uninstall.sh", "--root", str(root), "--prefix", "/srv/ee")
    assert not user_unit.exists() and not wants.exists() and not autostart.exists()
    assert not (root / "etc/systemd/system/emotion-edge.service").exists() and not (root / "srv/ee").exists()
    assert "left on" not in done.stdout  # a staging install turns neither auto-login nor linger on


def test_uninstall_keeps_the_desktop_display_store_until_purge(tmp_path):
    """The user unit writes its events to the desktop user's state folder (%S/emotion-edge): uninstall keeps it
    and says so, --purge deletes it (a privacy promise: the purge removes the event store); the unit's cache goes
    with the install either way. A folder of that name the unit did not make (no events.db), and one reached
    through a user's symbolic link, are not touched: root's uninstall must not follow a link out of the home."""
    root = tmp_path / "root"
    flags = ["--root", str(root), "--prefix", "/srv/ee", "--no-apt", "--no-pip", "--pi", "no",
             "--python", sys.executable]
    script("install.sh", *flags, "--display", "desktop")
    stores = [root / "home/pi/.config/emotion-edge", root / "home/kiosk/.local/state/emotion-edge"]
    cache = root / "home/pi/.cache/emotion-edge"
    not_ours = root / "home/kiosk/.config/emotion-edge"  # no events.db: not the unit's
    elsewhere = root / "srv/data"  # what a link in a home points at
    for store in (*stores, elsewhere / "emotion-edge"):
        store.mkdir(parents=True)
        (store / "events.db").write_bytes(b"events")
    (cache / "matplotlib").mkdir(parents=True)
    not_ours.mkdir(parents=True)
    (not_ours / "notes.txt").write_text("mine")
    (root / "home/eve").mkdir()
    (root / "home/eve/.cache").symlink_to(elsewhere)  # ~/.cache/emotion-edge would be srv/data/emotion-edge
    (root / "home/eve/.config").mkdir()
    (root / "home/eve/.config/emotion-edge").symlink_to(elsewhere / "emotion-edge")

    done = script("uninstall.sh", "--root", str(root), "--prefix", "/srv/ee")
    for store in stores:
        assert f"uninstall: kept {store} (remove with --purge)" in done.stdout
        assert (store / "events.db").is_file()
    assert not cache.exists()

    done = script("uninstall.sh", "--root", str(root), "--purge")
    for store in stores:
        assert f"uninstall: --purge: deleting the desktop display's event store {store}" in done.stdout
        assert not store.exists()
    assert "home/eve" not in done.stdout
    assert (not_ours / "notes.txt").is_file() and (elsewhere / "emotion-edge/events.db").is_file()
    done = script("uninstall.sh", "--root", str(root), "--purge")
    assert "nothing to do" in done.stdout


def test_install_rejects_an_unknown_display_mode(tmp_path):
    done = script("install.sh", "--root", str(tmp_path), "--display", "hdmi", ok=False)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --display hdmi: expected none, desktop or framebuffer"


FAKE_TOOL = r"""#!/bin/bash
# systemctl, loginctl, raspi-config: logs every call; `loginctl list-users` prints $FAKE_USERS; a call for the user
# manager of $FAKE_FAILING_USER fails (that user has no display unit)
name=$(basename "$0")
echo "$name $*" >> "$FAKE_LOG"
[ "$name $1" = "loginctl list-users" ] && printf '%s\n' "$FAKE_USERS"
case " $* " in *" -M $FAKE_FAILING_USER@ "*) echo "Unit emotion-edge-display.service not loaded." >&2; exit 5 ;; esac
exit 0
"""
MARKER = ".emotion-edge-install"


def fake_tools(tmp_path: Path, **extra: str) -> tuple[dict[str, str], Path]:
    """An environment whose systemctl, loginctl and raspi-config are FAKE_TOOL (systemd cannot run here)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("systemctl", "loginctl", "raspi-config"):
        (bin_dir / name).write_text(FAKE_TOOL)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls.log"
    log.touch()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "SUDO_USER")}
    env.update({"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(log), "FAKE_USERS": "",
                "FAKE_FAILING_USER": "", **extra})
    return env, log


def display_function(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    """scripts/_display.sh's functions under the scripts' shell options."""
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source scripts/_display.sh; {code}"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)


def test_uninstall_stops_the_display_in_every_user_manager(tmp_path):
    """uninstall.sh (with systemctl) stops the user unit in each user's manager before its venv goes: it would
    keep running in the desktop session, holding the camera. Columns of systemd 252 and of 254 and later."""
    env, log = fake_tools(tmp_path, FAKE_USERS=" 1000 pi\n1001 kiosk no active", FAKE_FAILING_USER="pi")
    done = display_function(env, "display_stop_user_units")
    assert done.returncode == 0, done.stderr  # a manager without the unit is not an error
    assert log.read_text().splitlines() == ["loginctl list-users --no-legend",
                                            "systemctl --user -M pi@ stop emotion-edge-display.service",
                                            "systemctl --user -M kiosk@ stop emotion-edge-display.service"]
    assert done.stdout == "uninstall: stopped the user unit emotion-edge-display.service of: pi kiosk\n"

    env, log = fake_tools(tmp_path / "nobody")  # no users: nothing to stop
    done = display_function(env, "display_stop_user_units")
    assert done.returncode == 0 and not done.stdout and log.read_text() == "loginctl list-users --no-legend\n"


def test_uninstall_stops_the_user_units_before_removing_files():
    text = (REPO / "scripts" / "uninstall.sh").read_text()
    stop = text.index("  display_stop_user_units")
    assert text.rindex('if [ "$SYSTEMCTL" = 1 ]; then', 0, stop) < stop < text.index('display_remove "$R"')


def test_install_notes_auto_login_and_linger_and_uninstall_leaves_them_on(tmp_path):
    """install --display desktop turns on auto-login and linger and notes them in its marker; uninstall does not
    revert them (the user may want them) but says, one line each, how to turn them off."""
    env, log = fake_tools(tmp_path)
    root = tmp_path / "root"
    marker = root / "srv/ee" / MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text("# marker\nedge\n")
    for _ in range(2):  # an install run again notes them once
        done = display_function(env, f"display_activate_desktop emotion-edge.service pi {marker}")
        assert done.returncode == 0, done.stderr
    assert marker.read_text() == "# marker\nedge\ndesktop-autologin\nlinger-user pi\n"
    calls = log.read_text().splitlines()
    assert "raspi-config nonint do_boot_behaviour B4" in calls and "loginctl enable-linger pi" in calls

    flags = ["--root", str(root), "--prefix", "/srv/ee", "--no-apt", "--no-pip", "--pi", "no",
             "--python", sys.executable]
    script("install.sh", *flags, "--display", "desktop")  # a later install keeps the notes (among its file list)
    assert {"desktop-autologin", "linger-user pi"} <= set(marker.read_text().splitlines())
    log.write_text("")
    done = subprocess.run(["bash", "scripts/uninstall.sh", "--root", str(root), "--prefix", "/srv/ee"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert ("uninstall: desktop auto-login (raspi-config B4) left on; turn it off with: "
            "sudo raspi-config nonint do_boot_behaviour B1") in lines
    assert ("uninstall: linger for pi (their systemd starts at boot) left on; turn it off with: "
            "sudo loginctl disable-linger pi") in lines
    assert log.read_text() == "" and not (root / "srv/ee").exists()  # nothing reverted (and --root: no systemctl)


def test_an_update_keeps_the_desktop_display_without_turning_anything_on_again(tmp_path):
    """install.sh run again without --display over a desktop install (by any sudo user): the system unit stays
    off, the running displays are restarted on the new code, and auto-login and linger are not turned on again
    (the operator may have turned auto-login off; linger is the display user's, not the updater's)."""
    env, log = fake_tools(tmp_path, FAKE_USERS="1000 pi", SUDO_USER="admin")
    root = tmp_path / "root"
    marker = root / "srv/ee" / MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text("# marker\nedge\n")
    done = display_function(env, "display_update_desktop emotion-edge.service")
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [
        "systemctl daemon-reload", "systemctl disable --now emotion-edge.service", "loginctl list-users --no-legend",
        "systemctl --user -M pi@ try-restart emotion-edge-display.service"]
    assert done.stdout.splitlines() == [
        "install: restarted the running display (user unit emotion-edge-display.service) of: pi",
        "install: done; the desktop display was kept (auto-login and linger as they are)"]

    text = (REPO / "scripts" / "install.sh").read_text()  # the install takes that path only for a kept mode
    kept = text.index('[ "$DISPLAY_KEPT" = 1 ]; then\n  display_update_desktop "$UNIT"')
    assert kept < text.index('display_activate_desktop "$UNIT"')


def test_uninstall_of_a_desktop_install_without_marker_gives_the_generic_commands(tmp_path):
    """An install older than the marker: the display unit says the desktop was installed, not for which user."""
    root = tmp_path / "root"
    flags = ["--root", str(root), "--no-apt", "--no-pip", "--pi", "no", "--python", sys.executable]
    script("install.sh", *flags, "--display", "desktop")
    (root / "opt/emotion-edge" / MARKER).unlink()
    done = script("uninstall.sh", "--root", str(root))
    assert "turn it off with: sudo raspi-config nonint do_boot_behaviour B1" in done.stdout
    assert "turn it off with: sudo loginctl disable-linger USER" in done.stdout
    assert not (root / "opt/emotion-edge").exists()
    done = script("uninstall.sh", "--root", str(root))  # again: nothing installed, nothing to say
    assert "left on" not in done.stdout


def test_small_frames_keep_legible_overlay_text():
    """The run's window shows a 120-pixel camera frame at its own size: text at the --video's scale (0.5), not
    at a quarter."""
    from edge.display.compose import overlay_scale
    from edge.sinks.overlay import MIN_SCALE, REFERENCE_HEIGHT

    assert overlay_scale(120) == MIN_SCALE
    assert overlay_scale(2 * REFERENCE_HEIGHT) == 2.0 and overlay_scale(120, 0.3) == 0.3  # configured: as given
