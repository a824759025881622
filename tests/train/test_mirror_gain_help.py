"""scripts/mirror_gain.py reads its command line before it looks for TensorFlow: --help and usage errors work
in a venv without it (the old script printed `error: tensorflow: not installed ...` for --help too), and a
command that would measure runs still stops at once with that one line (tests/train/test_no_tensorflow_cli.py).
With TensorFlow, Keras and SciPy load once the command line is read, and the script measures a run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from tests.conftest import REPO
from tests.synthetic import write_image_folders
from tests.train.test_no_tensorflow_cli import run_blocked

SCRIPT = REPO / "scripts" / "mirror_gain.py"


def test_help_needs_no_tensorflow() -> None:
    result = run_blocked(str(SCRIPT), "--help")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.startswith("usage: ") and "--mirror-soup" in result.stdout
    assert "What averaging a face with its mirror image is worth" in result.stdout
    assert result.stderr == ""


def test_a_usage_error_is_argparses_not_the_tensorflow_line() -> None:
    result = run_blocked(str(SCRIPT), "--mirror-soup")
    assert result.returncode == 2
    assert "the following arguments are required: --data, runs" in result.stderr
    assert "not installed" not in result.stderr


def test_with_tensorflow_the_script_measures_a_run(tmp_path: Path, capsys) -> None:
    """A run folder with an untrained model: its accuracy alone, mirror-averaged and as mirror soups."""
    from train.fit import save_model
    from train.model import build_model

    data = write_image_folders(tmp_path / "data", {"train": 10})
    run = tmp_path / "run"
    run.mkdir()
    save_model(build_model(width=4, dense_units=8), run / "model.keras")
    (run / "run.json").write_text(json.dumps({"config": {"seed": 42}, "val_fraction": 0.1, "val_split": None,
                                              "class_bias": [0.0] * 7, "fitted_splits": ["train"]}))
    spec = importlib.util.spec_from_file_location("mirror_gain", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--data", str(data), "--cache-dir", str(tmp_path / "cache"), "--mirror-soup", str(run)])
    out = capsys.readouterr().out
    assert f"{run}: untuned on the slice (7 faces): " in out and "mirror-averaged" in out
    assert out.count("  mirror soup ") == 3
