"""Whether this Python can train and convert: TensorFlow (with Keras) must be installed. Checked right after the
command line is parsed, before any data loads or any --out folder is made, so a command run in the edge-only venv
fails in one line `error: tensorflow: not installed ...` (exit code 2) instead of a traceback after the data.

Standard library only (plus edge.cli_common, edge.errors and edge.native_stderr, themselves standard library
only), until load_tensorflow imports it."""

from __future__ import annotations

import importlib.util
import logging
import os
import platform
import re
import sys
from pathlib import Path

from edge.cli_common import error_line
from edge.errors import EdgeError

log = logging.getLogger(__name__)

REQUIRED_MODULES = ("tensorflow", "keras")  # Keras 3 is a package of its own next to TensorFlow >= 2.16
SETUP_HINT = "train and convert need requirements-train.txt, see docs/TRAIN.md"
GPU_DRIVER_DEVICES = (Path("/dev/nvidiactl"), Path("/dev/dxg"))  # an NVIDIA driver loaded; WSL2's GPU bridge
CUDA_PROBE_FAILED = re.compile(r"failed call to cuInit")  # TensorFlow's CUDA probe on a machine without a GPU
X86_MACHINES = ("x86_64", "amd64")
CPUINFO = Path("/proc/cpuinfo")


def is_installed(name: str) -> bool:
    """Whether `import name` would find a module, without importing it (find_spec only looks it up: cheap).
    A finder that refuses the name (ImportError) counts as not installed."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module in sys.modules without a spec
        return False


def require_tensorflow() -> None:
    """EdgeError `<module>: not installed in this environment (<python>); ...` (exit code 2) for the first of
    REQUIRED_MODULES this Python cannot import, or for a CPU TensorFlow cannot run on."""
    for name in REQUIRED_MODULES:
        if not is_installed(name):
            raise EdgeError(name, f"not installed in this environment ({sys.executable}); {SETUP_HINT}")
    if missing_avx():
        raise EdgeError("tensorflow", "this CPU has no AVX instructions, which the TensorFlow wheels need; train "
                                      "and convert on another machine (the edge side needs no TensorFlow)")


def exit_without_tensorflow() -> None:
    """For a script: require_tensorflow's error as one line on stderr, then exit with its code."""
    try:
        require_tensorflow()
    except EdgeError as exc:
        print(error_line(exc.one_line()), file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def missing_avx(cpuinfo: Path = CPUINFO) -> bool:
    """True on an x86 CPU without AVX, where the TensorFlow wheels abort as they load (their one fatal line would
    go to the captured stderr and be lost with the process)."""
    if platform.machine().lower() not in X86_MACHINES:
        return False
    try:
        flags = cpuinfo.read_text().split()
    except OSError:
        return False  # not Linux, or no /proc: let TensorFlow say it
    return "avx" not in flags


def load_tensorflow() -> None:
    """Import TensorFlow and let it look for GPUs with file descriptor 2 captured (edge.native_stderr): what its C++
    side prints then (oneDNN notes, CUDA probes: `E0000 ... failed call to cuInit` on every machine without an
    NVIDIA GPU) is logged, chatter at DEBUG, instead of reaching stderr, which is kept for one-line errors. Where
    a GPU driver is loaded, a failed CUDA probe is a real problem and is logged as a warning. Logs which devices
    train. EDGE_NATIVE_STDERR=show leaves stderr alone (a crash while TensorFlow loads takes the captured lines
    with it)."""
    from edge.native_stderr import native_stderr_logged

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    chatter = None if any(device.exists() for device in GPU_DRIVER_DEVICES) else CUDA_PROBE_FAILED
    with native_stderr_logged("tensorflow", chatter):
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
    log.info("TensorFlow %s on %s", tf.__version__,
             ", ".join(gpu.name for gpu in gpus) if gpus else "the CPU (no GPU found)")
