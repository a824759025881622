"""`service --check-config` refuses what the service would refuse at start (exit 2, which systemd does not restart),
with the same one line: picamera2 not importable, a store folder that cannot be made (found without making it:
/proc, a file on the way, a symbolic link to nothing, a folder this user may not write), a store on a read-only
file system (said as such, not as a file to chown)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.errors import EdgeError
from tests.edge.helpers import main_in_process
from tests.service.conftest import REPO

CAMERA = "/dev/video97"  # a camera that is absent: the check opens no camera, the service would wait for it
PICAMERA2_MISSING = ("error: source picamera2: picamera2 not importable (sudo apt install python3-picamera2; "
                     "create the venv with --system-site-packages)")
READ_ONLY = "read-only file system"
NOBODY = "65534"
MOUNT_TIMEOUT_S = 30
SUBPROCESS_TIMEOUT_S = 120
TMPFS_SIZE = "size=1m"


def run_check(model: Path, monkeypatch, capsys, *flags: str) -> tuple[int, str]:  # noqa: ANN001 - fixtures
    return main_in_process(["service", "--check-config", "--model", str(model), "--source", CAMERA, *flags],
                           monkeypatch, capsys)


def check_store(model: Path, store: Path, monkeypatch, capsys) -> tuple[int, str]:  # noqa: ANN001 - fixtures
    return run_check(model, monkeypatch, capsys, "--store.path", str(store))


def service_store_error(store: Path) -> str | None:
    """The line the service exits 2 with for this store.path (StoreSink's first step), or None if it starts."""
    from edge.store.files import ensure_folder

    try:
        ensure_folder(store)
    except EdgeError as exc:
        return exc.one_line()
    return None


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _file(tmp: Path) -> Path:
    (tmp / "file").write_text("not a folder")
    return tmp / "file" / "events.db"


def _under_file(tmp: Path) -> Path:
    (tmp / "file").write_text("not a folder")
    return tmp / "file" / "a" / "b" / "events.db"


def _dangling_link(tmp: Path) -> Path:
    (tmp / "link").symlink_to(tmp / "nowhere")
    return tmp / "link" / "events.db"


def _text_file(tmp: Path) -> Path:
    (tmp / "notes.txt").write_text("a config, not a store\n")
    return tmp / "notes.txt"


def _a_folder(tmp: Path) -> Path:
    (tmp / "dir").mkdir()
    return tmp / "dir"


STORE_CASES: dict[str, Callable[[Path], Path]] = {
    "proc": lambda tmp: Path("/proc/x/events.db"),
    "proc-deep": lambda tmp: Path("/proc/x/y/events.db"),
    "sysfs": lambda tmp: Path("/sys/x/events.db"),
    "folder-is-a-file": _file,
    "file-on-the-way": _under_file,
    "symlink-to-nothing": _dangling_link,
    "text-file": _text_file,
    "store-is-a-folder": _a_folder,
    "new-folders": lambda tmp: tmp / "new" / "a" / "events.db",
}


@pytest.mark.parametrize("case", STORE_CASES)
def test_check_config_gives_the_services_store_error_and_creates_nothing(case, service_model, monkeypatch, capsys,
                                                                         tmp_path):
    store = STORE_CASES[case](tmp_path)
    before = tree(tmp_path)
    code, err = check_store(service_model, store, monkeypatch, capsys)
    assert tree(tmp_path) == before, "the check created something"
    expected = service_store_error(store)
    if expected is None:
        assert code == 0 and err == "", err
    else:
        assert code == 2 and err.strip() == expected, (err, expected)


def test_check_config_names_the_proc_folder_as_the_service_does(service_model, monkeypatch, capsys):
    code, err = check_store(service_model, Path("/proc/x/events.db"), monkeypatch, capsys)
    assert code == 2
    assert err.strip() == "error: store /proc/x/events.db: cannot create folder /proc/x (No such file or directory)"


def test_check_config_refuses_picamera2_when_it_is_not_importable(service_model, monkeypatch, capsys):
    import importlib.util

    if importlib.util.find_spec("picamera2") is not None:
        pytest.skip("picamera2 is importable here")
    code, err = run_check(service_model, monkeypatch, capsys, "--source", "picamera2")
    assert code == 2 and err.strip() == PICAMERA2_MISSING, err
    from edge.sources.picam import PiCamera2Source

    with pytest.raises(EdgeError) as opened:  # what the service meets at start
        PiCamera2Source()
    assert opened.value.one_line() == PICAMERA2_MISSING


def test_check_config_accepts_an_importable_picamera2_without_opening_it(service_model, monkeypatch, capsys):
    stand_in = types.ModuleType("picamera2")  # no Picamera2 class: opening the camera would fail the test
    monkeypatch.setitem(sys.modules, "picamera2", stand_in)
    code, err = run_check(service_model, monkeypatch, capsys, "--source", "picamera2")
    assert code == 0 and err == "", err


def _mount(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=MOUNT_TIMEOUT_S)


@pytest.fixture
def read_only_mount(tmp_path) -> Iterator[Path]:  # noqa: ANN001 - pytest fixture
    """A tmpfs holding events.db (an SQLite file), remounted read-only; unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a read-only file system needs root and mount(8)")
    mnt = tmp_path / "ro"
    mnt.mkdir()
    done = _mount("-t", "tmpfs", "-o", TMPFS_SIZE, "tmpfs", str(mnt))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        sqlite3.connect(mnt / "events.db").close()  # an empty database file
        remounted = _mount("-o", "remount,ro", str(mnt))
        assert remounted.returncode == 0, remounted.stderr
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=MOUNT_TIMEOUT_S)


@pytest.mark.parametrize("name", ["events.db", "other.db", "sub/events.db"])
def test_a_read_only_store_is_called_read_only(name, read_only_mount, service_model, monkeypatch, capsys):
    store = read_only_mount / name
    code, err = check_store(service_model, store, monkeypatch, capsys)
    expected = service_store_error(store)
    assert code == 2 and err.strip() == expected, (err, expected)
    assert READ_ONLY in expected.lower() and "chown" not in expected and "ReadWritePaths=" in expected


def test_a_store_file_on_a_read_only_file_system_is_not_a_file_to_chown(read_only_mount):
    from edge.store.files import check_store_file

    with pytest.raises(EdgeError) as refused:
        check_store_file(read_only_mount / "events.db")
    line = refused.value.one_line()
    assert line.startswith(f"error: store {read_only_mount / 'events.db'}: not writable: {READ_ONLY}; "), line
    assert "chown" not in line


PARITY_SCRIPT = """
import sys
from pathlib import Path
from edge.errors import EdgeError
from edge.store.files import check_store_path, ensure_folder
for arg in sys.argv[1:]:
    for step in (check_store_path, ensure_folder):
        try:
            step(Path(arg))
            print("ok")
        except EdgeError as exc:
            print(exc.one_line())
"""


def _nobody_python() -> str | None:
    """An interpreter of this version that another user may run (this venv's may lie under /root, mode 0700)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return shutil.which(version, path="/usr/bin:/usr/local/bin")


def test_as_another_user_the_check_and_the_service_agree_on_permissions():
    """Root may write anywhere, so EACCES is only seen as another user: a folder that may not be written, one that
    may not be made in it, one under a folder that may not be entered (/root)."""
    python, setpriv = _nobody_python(), shutil.which("setpriv")
    if os.geteuid() != 0 or python is None or setpriv is None:
        pytest.skip("needs root, setpriv(1) and a system python of this version")
    base = Path(tempfile.mkdtemp(prefix="check-parity-"))
    try:
        base.chmod(0o755)
        paths = [base / "new" / "events.db", base / "events.db", Path("/root/x/events.db")]
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp",
               "PYTHONPATH": os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])}
        as_nobody = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", python, "-c"]
        probe = subprocess.run([*as_nobody, "import edge.store"], capture_output=True, text=True, env=env, cwd="/",
                               timeout=SUBPROCESS_TIMEOUT_S)
        if probe.returncode != 0:
            pytest.skip(f"the store module does not load as another user here: {probe.stderr.strip()[-300:]}")
        done = subprocess.run([*as_nobody, PARITY_SCRIPT, *map(str, paths)], capture_output=True, text=True,
                              env=env, cwd="/", timeout=SUBPROCESS_TIMEOUT_S)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 2 * len(paths), done.stdout
        checks, starts = lines[0::2], lines[1::2]
        assert checks == starts
        assert checks[0].endswith(f"cannot create folder {base / 'new'} (Permission denied)")
        assert checks[1].endswith(f"folder {base} is not writable")
        assert checks[2].endswith("cannot create folder /root/x (Permission denied)")
        assert tree(base) == set()
    finally:
        shutil.rmtree(base, ignore_errors=True)
