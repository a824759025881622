"""A Ctrl-C while `python -m train` imports its own modules (numpy, PIL, edge.cli_common, the train modules) ends
it as `python -m edge` and `python -m convert` do: one line on stderr, exit 130, no traceback, nothing written.
(A Ctrl-C as TensorFlow loads, later, is tests.train.test_interrupts'.)

The Ctrl-C is a real SIGINT sent as a chosen module is first looked up (tests.train.interrupting)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.train.interrupting import run_as_main_stopped_at_import
from tests.train.test_interrupts import stopped_at

TIMEOUT = 120
INTERRUPTED = "interrupted: the command did not finish; run it again"
TRAIN_STOPPED_AT_IMPORT = run_as_main_stopped_at_import("train")


def train_args(tmp_path: Path) -> list[str]:
    return ["--data", str(tmp_path / "data"), "--out", str(tmp_path / "new" / "run"), "--epochs", "1"]


def assert_interrupted(result: subprocess.CompletedProcess, tmp_path: Path) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 130, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]
    assert result.stderr.strip().splitlines() == [INTERRUPTED], result.stderr[-3000:]
    assert not (tmp_path / "new").exists()


# numpy first, train.stopping last among train.__main__'s own imports; PIL comes with train.data
@pytest.mark.parametrize("module", ["numpy", "edge.cli_common", "train.cli", "train.config", "train.data", "PIL",
                                    "train.environment", "train.runfolder", "train.stopping"])
def test_ctrl_c_while_train_imports_its_modules_is_one_line(tmp_path: Path, module: str) -> None:
    assert_interrupted(stopped_at("SIGINT", f"import:{module}", "train", *train_args(tmp_path)), tmp_path)


@pytest.mark.parametrize("module", ["numpy", "train.data"])
def test_ctrl_c_while_python_m_train_imports_is_one_line(tmp_path: Path, module: str) -> None:
    """As `python -m train` runs it: train/__main__.py as the __main__ module."""
    result = subprocess.run([sys.executable, "-c", TRAIN_STOPPED_AT_IMPORT, module, *train_args(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert_interrupted(result, tmp_path)
