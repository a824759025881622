"""scripts/mirror_gain.py named a folder that is not a finished run (the kept stage-1 checkpoint folders hold
last.keras only): one line naming the folder and what is missing, before TensorFlow or any data loads (it was a
Keras traceback after the training faces had loaded)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.train.test_no_tensorflow_cli import SUBPROCESS_TIMEOUT, run_blocked

SCRIPT = REPO / "scripts" / "mirror_gain.py"


def test_a_checkpoint_folder_without_model_keras_is_one_line(tmp_path: Path) -> None:
    kept = tmp_path / "vgg32s"
    kept.mkdir()
    (kept / "run.json").write_text("{}")
    (kept / "last.keras").write_bytes(b"")
    result = run_blocked(str(SCRIPT), "--data", str(tmp_path / "no-data"), str(kept))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"error: {kept}: no model.keras: name a finished run folder (a kept checkpoint folder "
                             "such as models/checkpoints/vgg32s holds last.keras only)\n")


def test_a_missing_folder_names_both_files(tmp_path: Path) -> None:
    result = run_blocked(str(SCRIPT), "--data", str(tmp_path), str(tmp_path / "nowhere"))
    assert f"error: {tmp_path / 'nowhere'}: no run.json or model.keras: " in result.stderr


def test_runs_as_a_module_from_the_repository_root_without_pythonpath(tmp_path: Path) -> None:
    """The form its docstring and the model card give: `python -m scripts.mirror_gain`, no PYTHONPATH needed."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-m", "scripts.mirror_gain", "--data", str(tmp_path),
                             str(tmp_path / "nowhere")], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=SUBPROCESS_TIMEOUT)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"error: {tmp_path / 'nowhere'}: no run.json or model.keras: " in result.stderr


def test_a_corrupt_run_record_and_a_bad_flag_are_one_line_exit_2(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{not json")
    (run / "model.keras").write_bytes(b"")
    result = run_blocked(str(SCRIPT), "--data", str(tmp_path), str(run))
    assert result.returncode == 2 and result.stderr.startswith(f"error: run {run / 'run.json'}: not valid JSON")
    assert len(result.stderr.splitlines()) == 1
    result = run_blocked(str(SCRIPT), "--data", str(tmp_path), "--best-subsets", "-3", str(run))
    assert result.returncode == 2
    assert result.stderr == ("error: command line: argument --best-subsets: -3: must be 0 or positive "
                             "(see python -m scripts.mirror_gain --help)\n")
