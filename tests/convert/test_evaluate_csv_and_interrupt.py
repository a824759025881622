"""`python -m convert.evaluate` on a fer2013.csv dataset logs the CSV file and the Usage it read, not a
`fer2013.csv/test` path that does not exist; a Ctrl-C while `python -m convert` or `python -m convert.evaluate`
imports its own modules is one line and exit 130, as a later Ctrl-C is, not a traceback.

The Ctrl-C is a real SIGINT sent as a chosen module is looked up (tests.train.interrupting)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SHIPPED_MODEL
from tests.convert.conftest import run_module
from tests.synthetic import write_csv
from tests.train.interrupting import run_as_main_stopped_at_import

TIMEOUT = 120
INTERRUPTED = "interrupted: the command did not finish; run it again"
EVALUATE_STOPPED_AT_IMPORT = run_as_main_stopped_at_import("convert.evaluate")


@pytest.mark.skipif(not SHIPPED_MODEL.with_suffix(".json").is_file(), reason=f"{SHIPPED_MODEL} + sidecar absent")
def test_a_csv_datasets_log_names_the_csv_file_and_its_usage(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "fer2013.csv", {"Training": 10, "PublicTest": 2})
    result = run_module("convert.evaluate", "--model", SHIPPED_MODEL, "--data", csv_path, "--split", "test",
                        "--out-dir", tmp_path / "figures")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "fer2013.csv/test" not in result.stdout
    assert f"on {csv_path} (Usage PublicTest): 14 faces" in result.stdout

    # a folder holding fer2013.csv is read as that file; the train-holdout slice names its Usage, fraction and seed
    result = run_module("convert.evaluate", "--model", SHIPPED_MODEL, "--data", tmp_path, "--split", "train-holdout",
                        "--holdout-fraction", "0.1", "--holdout-seed", "42", "--out-dir", tmp_path / "figures")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"{tmp_path}/train" not in result.stdout and "fer2013.csv/train" not in result.stdout
    assert f"on the held-out slice of {csv_path} (Usage Training; fraction 0.1, seed 42): 7 faces" in result.stdout


def assert_interrupted(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 130, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines() == [INTERRUPTED], result.stderr[-3000:]


@pytest.mark.parametrize("module", ["convert.errors", "numpy", "convert.pipeline", "cv2", "edge.classifier"])
def test_ctrl_c_while_convert_imports_its_modules_is_one_line(tmp_path: Path, module: str) -> None:
    result = subprocess.run([sys.executable, "-m", "tests.train.interrupting", "SIGINT", f"import:{module}",
                             "convert", "--run", str(tmp_path / "run"), "--out", str(tmp_path / "new" / "m.tflite")],
                            cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert_interrupted(result)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("module", ["numpy", "cv2", "edge.classifier", "convert.errors"])
def test_ctrl_c_while_convert_evaluate_imports_its_modules_is_one_line(tmp_path: Path, module: str) -> None:
    result = subprocess.run([sys.executable, "-c", EVALUATE_STOPPED_AT_IMPORT, module, "--model",
                             str(tmp_path / "m.tflite"), "--data", str(tmp_path), "--out-dir", str(tmp_path / "new")],
                            cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert_interrupted(result)
    assert not (tmp_path / "new").exists()
