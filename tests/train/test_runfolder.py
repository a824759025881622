"""A run folder's records: a fresh run never overwrites a run, --resume keeps the run's lineage flags, a
resumed finished run starts from its untuned model, and a run record that is not an object is one line."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO
from tests.synthetic import write_image_folders
from train.__main__ import parse_args, train_config
from train.runfolder import START_RECORD, adopt_start_record, write_start_record


def train_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def started(tmp_path):
    """A run folder as a fresh `python -m train ... --extra-train-split test --width 8` leaves it when it starts."""
    data = write_image_folders(tmp_path / "data", {"train": 4, "test": 2})
    out = tmp_path / "run"
    out.mkdir()
    args = parse_args(["--data", str(data), "--out", str(out), "--extra-train-split", "test", "--width", "8"])
    write_start_record(args, train_config(args))
    (out / "state.json").write_text(json.dumps({"epoch": 0, "best_val_accuracy": 0.5}))
    return data, out


def test_a_fresh_run_into_a_folder_holding_a_run_is_refused_and_the_run_kept(started):
    data, out = started
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    line = one_line_error(train_cli("--data", data, "--out", out, "--epochs", "1"))
    assert line == (f"error: --out {out}: already holds a run (state.json); pass --resume to continue it, or "
                    "name a new folder")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_resume_with_another_seed_is_refused(started):
    data, out = started
    line = one_line_error(train_cli("--data", data, "--out", out, "--resume", "--seed", "7",
                                    "--extra-train-split", "test"))
    assert line.startswith(f"error: --seed 7: {out} was started with --seed 42; a resume must keep it")


def test_resume_with_another_extra_split_is_refused(started):
    data, out = started
    line = one_line_error(train_cli("--data", data, "--out", out, "--resume", "--extra-train-split", "privatetest"))
    assert line.startswith(f"error: --extra-train-split privatetest: {out} was started with --extra-train-split test")


def test_resume_adopts_the_lineage_flags_left_out(started):
    data, out = started
    args = parse_args(["--data", str(data), "--out", str(out), "--resume"])
    adopt_start_record(args)
    assert args.extra_train_split == "test" and args.width == 8 and args.val_split is None
    assert json.loads((out / START_RECORD).read_text())["val_fraction"] == 0.1


def test_a_run_record_that_is_not_an_object_is_one_line(tmp_path):
    data = write_image_folders(tmp_path / "data", {"train": 4})
    other = tmp_path / "other"
    other.mkdir()
    (other / "run.json").write_text("[1, 2]")
    line = one_line_error(train_cli("--data", data, "--out", tmp_path / "run", "--offsets-from", other))
    assert line == f"error: --offsets-from {other / 'run.json'}: not a run record (a JSON object with a config object)"


def test_a_resumed_finished_run_takes_its_folded_offsets_back_out_once(tmp_path):
    """--resume of a finished run: model.keras carries the offsets run.json records; they come back out
    (once, even when an interruption repeats the step) so the new report tunes from the untuned model."""
    from train.model import LOGITS_LAYER, build_model
    from train.reports import REOPENED_RECORD, fold_class_bias, reopen_finished_run

    model = build_model(4, 8, 0.0)
    untuned_bias = model.get_layer(LOGITS_LAYER).get_weights()[1].copy()
    offsets = np.linspace(-0.5, 0.7, len(untuned_bias))
    fold_class_bias(model, offsets)
    model.save(tmp_path / "model.keras")
    (tmp_path / "run.json").write_text(json.dumps({"config": {}, "class_bias": offsets.tolist()}))

    def bias_on_disk():
        import keras
        return keras.models.load_model(tmp_path / "model.keras").get_layer(LOGITS_LAYER).get_weights()[1]

    reopen_finished_run(tmp_path)
    np.testing.assert_allclose(bias_on_disk(), untuned_bias, atol=1e-6)
    assert not (tmp_path / "run.json").exists() and not (tmp_path / REOPENED_RECORD).exists()
    reopen_finished_run(tmp_path)  # nothing left to take out
    np.testing.assert_allclose(bias_on_disk(), untuned_bias, atol=1e-6)
    # interrupted after the model was saved, before the record was removed: not taken out twice
    (tmp_path / REOPENED_RECORD).write_text(json.dumps({"class_bias": offsets.tolist(), "model_sha256": "0" * 64}))
    reopen_finished_run(tmp_path)
    np.testing.assert_allclose(bias_on_disk(), untuned_bias, atol=1e-6)
