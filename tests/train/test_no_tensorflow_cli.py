"""Without TensorFlow (the edge-only venv), `python -m train`, `python -m convert` and scripts/mirror_gain.py stop
at once with one line `error: tensorflow: not installed ...` and exit code 2: before the data loads (no decode
cache is written) and before any --out folder is made. Here TensorFlow and Keras are blocked by a meta-path
finder, which works whether or not they are installed; .venv-edge, where it exists, is tried too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.synthetic import write_image_folders

SUBPROCESS_TIMEOUT = 120
PER_CLASS = {"train": 3, "test": 2}
EDGE_PYTHON = REPO / ".venv-edge" / "bin" / "python"
KERAS_MEMBERS = ("config.json", "model.weights.h5")  # what train.config.keras_archive_problem looks for
FACE_SHAPE = [48, 48, 1]
BATCH = "8"  # not more than the 14 training faces left after the validation slice: the old code got to the data

# Runs a module (`-m` style) or a script (a path ending in .py) with tensorflow and keras not importable.
BLOCKED_RUN = r"""
import importlib.abc, runpy, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras'):
            raise ModuleNotFoundError('blocked by the test: ' + name, name=name)
sys.meta_path.insert(0, Block())
target = sys.argv[1]
sys.argv = sys.argv[1:]
if target.endswith('.py'):
    runpy.run_path(target, run_name='__main__')
else:
    runpy.run_module(target, run_name='__main__', alter_sys=True)
"""


def expected_error(python: str | Path) -> str:
    return (f"error: tensorflow: not installed in this environment ({python}); train and convert need "
            "requirements-train.txt, see docs/TRAIN.md")


def run_blocked(target: str, *args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, target, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)


def assert_refused(result: subprocess.CompletedProcess, python: str | Path) -> None:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [expected_error(python)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folders(tmp_path_factory.mktemp("no_tf") / "data", PER_CLASS)


@pytest.fixture
def run_folder(dataset: Path, tmp_path: Path) -> Path:
    """A finished run as far as the checks before TensorFlow can tell: run.json and a model.keras archive."""
    run = tmp_path / "run"
    run.mkdir()
    labels = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    (run / "run.json").write_text(json.dumps({"labels": labels, "input_shape": FACE_SHAPE, "data": str(dataset)}))
    with zipfile.ZipFile(run / "model.keras", "w") as archive:
        for member in KERAS_MEMBERS:
            archive.writestr(member, "{}")
    return run


def test_train_without_tensorflow_is_one_line_before_data_and_out(dataset: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "runs" / "fresh", tmp_path / "cache"
    result = run_blocked("train", "--data", dataset, "--out", out, "--epochs", "1", "--batch-size", BATCH,
                         "--eval-split", "none", "--cache-dir", cache)
    assert_refused(result, sys.executable)
    assert not out.parent.exists()  # no --out folder, not even its parent
    assert not cache.exists()  # the data was never loaded


def test_train_help_and_usage_errors_need_no_tensorflow() -> None:
    assert run_blocked("train", "--help").returncode == 0
    result = run_blocked("train", "--epochs", "1")
    assert result.returncode == 2 and result.stderr.startswith("error: command line: ")


def test_convert_without_tensorflow_is_one_line_before_data_and_out(run_folder: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "models" / "x.tflite", tmp_path / "cache"
    result = run_blocked("convert", "--run", run_folder, "--out", out, "--cache-dir", cache)
    assert_refused(result, sys.executable)
    assert not out.parent.exists()
    assert not cache.exists()


def test_mirror_gain_without_tensorflow_is_one_line(dataset: Path, run_folder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = run_blocked(str(REPO / "scripts" / "mirror_gain.py"), "--data", dataset, "--cache-dir", cache,
                         run_folder)
    assert_refused(result, sys.executable)
    assert not cache.exists()


@pytest.mark.skipif(not EDGE_PYTHON.is_file(), reason=f"{EDGE_PYTHON} absent (scripts/demo.sh makes it)")
def test_train_in_the_edge_venv_is_one_line(dataset: Path, tmp_path: Path) -> None:
    """The real case: the edge-only venv, which has no TensorFlow at all."""
    out = tmp_path / "runs" / "fresh"
    result = subprocess.run([str(EDGE_PYTHON), "-m", "train", "--data", str(dataset), "--out", str(out),
                             "--epochs", "1", "--batch-size", BATCH, "--cache-dir", str(tmp_path / "cache")],
                            cwd=REPO,
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert_refused(result, EDGE_PYTHON)
    assert not out.parent.exists()
