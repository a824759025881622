"""Whether this Python can train and convert: TensorFlow (with Keras) must be installed. Checked right after the
command line is parsed, before any data loads or any --out folder is made, so a command run in the edge-only venv
fails in one line `error: tensorflow: not installed ...` (exit code 2) instead of a traceback after the data.

Standard library only (plus edge.cli_common, edge.errors and edge.native_stderr, themselves standard library
only), until load_tensorflow imports it."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

from edge.cli_common import error_line
from edge.errors import EdgeError

REQUIRED_MODULES = ("tensorflow", "keras")  # Keras 3 is a package of its own next to TensorFlow >= 2.16
SETUP_HINT = "train and convert need requirements-train.txt, see docs/TRAIN.md"
NVIDIA_DEVICE = Path("/dev/nvidiactl")  # present wherever an NVIDIA driver is loaded
CUDA_PROBE_FAILED = re.compile(r"failed call to cuInit")  # TensorFlow's CUDA probe on a machine without a GPU


def is_installed(name: str) -> bool:
    """Whether `import name` would find a module, without importing it (find_spec only looks it up: cheap).
    A finder that refuses the name (ImportError) counts as not installed."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module in sys.modules without a spec
        return False


def require_tensorflow() -> None:
    """EdgeError `<module>: not installed in this environment (<python>); ...` (exit code 2) for the first of
    REQUIRED_MODULES this Python cannot import."""
    for name in REQUIRED_MODULES:
        if not is_installed(name):
            raise EdgeError(name, f"not installed in this environment ({sys.executable}); {SETUP_HINT}")


def exit_without_tensorflow() -> None:
    """For a script: require_tensorflow's error as one line on stderr, then exit with its code."""
    try:
        require_tensorflow()
    except EdgeError as exc:
        print(error_line(exc.one_line()), file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def load_tensorflow() -> None:
    """Import TensorFlow and let it look for GPUs with file descriptor 2 captured (edge.native_stderr): what its C++
    side prints then (oneDNN notes, CUDA probes: `E0000 ... failed call to cuInit` on every machine without an
    NVIDIA GPU) is logged, chatter at DEBUG, instead of reaching stderr, which is kept for one-line errors. Where
    an NVIDIA driver is loaded, a failed CUDA probe is a real problem and is logged as a warning."""
    from edge.native_stderr import native_stderr_logged

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    chatter = None if NVIDIA_DEVICE.exists() else CUDA_PROBE_FAILED
    with native_stderr_logged("tensorflow", chatter):
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
