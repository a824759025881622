"""Every bad input is one line `error: <path>: <problem>` on stderr, exit code 2, no traceback."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.convert.conftest import Converted, assert_one_line_error, run_module


def model_copy(converted: Converted, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / converted.model.name
    shutil.copy(converted.model, model)
    shutil.copy(converted.sidecar, model.with_suffix(".json"))
    return model


def edit_sidecar(model: Path, change: Callable[[dict], None]) -> None:
    sidecar = model.with_suffix(".json")
    contract = json.loads(sidecar.read_text())
    change(contract)
    sidecar.write_text(json.dumps(contract))


def missing_model(model: Path) -> Path:
    model.unlink()
    return model


def missing_sidecar(model: Path) -> Path:
    model.with_suffix(".json").unlink()
    return model.with_suffix(".json")


def truncated_model(model: Path) -> Path:
    model.write_bytes(model.read_bytes()[:1000])
    return model


def garbage_model_with_matching_hash(model: Path) -> Path:
    import hashlib

    model.write_bytes(b"not a flatbuffer at all" * 50)
    edit_sidecar(model, lambda c: c.update(tflite_sha256=hashlib.sha256(model.read_bytes()).hexdigest()))
    return model


def fewer_labels(model: Path) -> Path:
    edit_sidecar(model, lambda c: c.update(labels=c["labels"][:-1]))
    return model.with_suffix(".json")


def fewer_labels_and_output(model: Path) -> Path:
    """6 labels and output [1, 6] on the 7-output model: the edge reports it against the model, when it loads it."""
    edit_sidecar(model, lambda c: (c.update(labels=c["labels"][:-1]), c["output"].update(shape=[1, 6])))
    return model


def wider_preprocess(model: Path) -> Path:
    """Crops of 64x48 cannot go into the 48x48 input (a LiteRT ValueError at the first face, unchecked)."""
    edit_sidecar(model, lambda c: c["preprocess"].update(width=64))
    return model


def colour_preprocess(model: Path) -> Path:
    """rgb crops have 3 channels, the grey model's input 1."""
    edit_sidecar(model, lambda c: c["preprocess"].update(color="rgb"))
    return model


def wrong_input_shape(model: Path) -> Path:
    """The edge reports this against the model ("input shape [..] != sidecar [..]")."""
    edit_sidecar(model, lambda c: c["input"].update(shape=[1, 64, 64, 1]))
    return model


def corrupt_sidecar(model: Path) -> Path:
    model.with_suffix(".json").write_text("{ not json")
    return model.with_suffix(".json")


EVALUATE_CASES = {
    "missing model": missing_model,
    "missing sidecar": missing_sidecar,
    "truncated model": truncated_model,
    "garbage model": garbage_model_with_matching_hash,
    "labels vs sidecar output": fewer_labels,
    "labels vs model output": fewer_labels_and_output,
    "input shape": wrong_input_shape,
    "preprocess width vs model input": wider_preprocess,
    "preprocess colour vs model input": colour_preprocess,
    "corrupt sidecar": corrupt_sidecar,
}


@pytest.mark.parametrize("case", EVALUATE_CASES)
def test_evaluate_bad_model(converted: Converted, tmp_path: Path, case: str) -> None:
    model = model_copy(converted, tmp_path / "m")
    blamed = EVALUATE_CASES[case](model)
    out_dir = tmp_path / "figures" / "new"
    result = run_module("convert.evaluate", "--model", model, "--data", converted.data, "--out-dir", out_dir)
    assert_one_line_error(result, blamed)
    assert not (tmp_path / "figures").exists()  # the --out-dir made for the figures is removed again


def test_evaluate_names_litert_not_the_model_when_it_is_missing(converted: Converted, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """An edge error about neither file is reported as the edge names it, not blamed on the model."""
    from convert.evaluate import main

    for module in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime", "tflite_runtime.interpreter"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails, as when neither package is installed
    assert main(["--model", str(converted.model), "--data", str(converted.data), "--out-dir",
                 str(tmp_path / "figures")]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: ai-edge-litert: not installed (pip install ai-edge-litert)"]
    assert not (tmp_path / "figures").exists()


def test_convert_names_litert_not_the_model_when_it_is_missing(converted: Converted,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from convert.errors import ConvertError
    from convert.litert import load_interpreter

    for module in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime", "tflite_runtime.interpreter"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ConvertError) as caught:
        load_interpreter(converted.model)
    assert caught.value.one_line() == "error: ai-edge-litert: not installed (pip install ai-edge-litert)"


def test_evaluate_unwritable_confusion(converted: Converted, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "cm.png"
    result = run_module("convert.evaluate", "--model", converted.model, "--data", converted.data,
                        "--confusion", target)
    assert_one_line_error(result, target)


def test_evaluate_missing_dataset(converted: Converted, tmp_path: Path) -> None:
    data = tmp_path / "no-such-dataset"
    result = run_module("convert.evaluate", "--model", converted.model, "--data", data, "--out-dir", tmp_path)
    assert_one_line_error(result, data)


def test_evaluate_bad_holdout_fraction(converted: Converted, tmp_path: Path) -> None:
    result = run_module("convert.evaluate", "--model", converted.model, "--data", converted.data,
                        "--split", "train-holdout", "--holdout-fraction", "1.5", "--out-dir", tmp_path)
    assert "1.5 must be between 0 and 1" in assert_one_line_error(result, "--holdout-fraction")


def test_evaluate_given_a_json_file_as_the_model_asks_for_the_tflite(converted: Converted, tmp_path: Path) -> None:
    """A run.json (or the sidecar) given as --model used to be read as its own sidecar: `format: Field required`."""
    run_json = converted.run / "run.json"
    result = run_module("convert.evaluate", "--model", run_json, "--data", converted.data, "--out-dir", tmp_path / "f")
    assert assert_one_line_error(result, run_json).endswith("is a JSON file; give the .tflite model (its .json "
                                                            "sidecar beside it)")
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize("flag, value", [("--holdout-seed", "5"), ("--holdout-fraction", "0.2")])
def test_evaluate_holdout_flags_without_a_holdout_split_are_refused(converted: Converted, tmp_path: Path,
                                                                    flag: str, value: str) -> None:
    """They cut a -holdout slice; with --split test they used to be silently ignored."""
    result = run_module("convert.evaluate", "--model", converted.model, "--data", converted.data, "--split", "test",
                        flag, value, "--out-dir", tmp_path / "f")
    assert "only with --split <split>-holdout" in assert_one_line_error(result, flag)


def test_evaluate_cache_dir_that_is_a_file_is_a_warning(converted: Converted, tmp_path: Path) -> None:
    """The cache only saves the next run a decode: the evaluation goes on without it, the file is untouched."""
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    result = run_module("convert.evaluate", "--model", converted.model, "--data", converted.data,
                        "--cache-dir", blocker, "--out-dir", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"cache {blocker}/" in result.stdout + result.stderr and "cannot write" in result.stdout + result.stderr
    assert blocker.read_text() == "not a folder" and "accuracy=" in result.stdout


def test_convert_max_drop_must_be_finite(converted: Converted, tmp_path: Path) -> None:
    result = run_module("convert", "--run", converted.run, "--out", tmp_path / "m.tflite", "--max-drop", "nan")
    assert "nan must be a finite number of points" in assert_one_line_error(result, "--max-drop")


def run_copy(converted: Converted, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("model.keras", "run.json"):
        shutil.copy(converted.run / name, folder / name)
    return folder


def no_run_folder(run: Path) -> Path:
    shutil.rmtree(run)
    return run


def no_model_keras(run: Path) -> Path:
    (run / "model.keras").unlink()
    return run / "model.keras"


def no_run_json(run: Path) -> Path:
    (run / "run.json").unlink()
    return run / "run.json"


def corrupt_model_keras(run: Path) -> Path:
    (run / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    return run / "model.keras"


def corrupt_run_json(run: Path) -> Path:
    (run / "run.json").write_text('{"labels": 7}')
    return run / "run.json"


CONVERT_RUN_CASES = {
    "no run folder": no_run_folder,
    "no model.keras": no_model_keras,
    "no run.json": no_run_json,
    "corrupt model.keras": corrupt_model_keras,
    "bad run.json": corrupt_run_json,
}


@pytest.mark.parametrize("case", CONVERT_RUN_CASES)
def test_convert_bad_run(converted: Converted, tmp_path: Path, case: str) -> None:
    run = run_copy(converted, tmp_path / "run")
    blamed = CONVERT_RUN_CASES[case](run)
    out = tmp_path / "models" / "m.tflite"
    result = run_module("convert", "--run", run, "--out", out)
    assert_one_line_error(result, blamed)
    assert not out.parent.exists()  # the folder made for --out is removed again


def test_convert_names_run_json_when_its_data_is_gone(converted: Converted, tmp_path: Path) -> None:
    """run.json's data is the fallback for --data; one recorded relative to where an older run trained, or
    moved since, is reported against run.json with the way out."""
    run = run_copy(converted, tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "data": "data/fer2013"}))
    out = tmp_path / "models" / "m.tflite"
    result = run_module("convert", "--run", run, "--out", out)
    assert assert_one_line_error(result, run / "run.json") == (
        f"error: {run / 'run.json'}: data 'data/fer2013' not found; pass --data")
    assert not out.parent.exists()


@pytest.mark.parametrize("name", ["a-file/m.tflite", "m.onnx", "existing-dir.tflite"])
def test_convert_unwritable_output(converted: Converted, tmp_path: Path, name: str) -> None:
    (tmp_path / "a-file").write_text("")
    (tmp_path / "existing-dir.tflite").mkdir()
    out = tmp_path / name
    result = run_module("convert", "--run", converted.run, "--out", out)
    assert_one_line_error(result, out)


def test_convert_missing_dataset(converted: Converted, tmp_path: Path) -> None:
    data = tmp_path / "gone"
    result = run_module("convert", "--run", converted.run, "--out", tmp_path / "m.tflite", "--data", data)
    assert_one_line_error(result, data)


@pytest.mark.parametrize("module, args, message", [
    ("convert", ["--run", "r", "--out", "m.tflite", "--calib-size", "many"],
     "argument --calib-size: invalid int value: 'many'"),
    ("convert", ["--out", "m.tflite"], "the following arguments are required: --run"),
    ("convert.evaluate", ["--model", "m.tflite", "--data", "d", "--no-such-flag"],
     "unrecognized arguments: --no-such-flag"),
    ("convert", ["--run", "r", "--out", "m.tflite", "--seed", "-1"], "argument --seed: -1: must be 0 or positive"),
    ("convert", ["--run", "r", "--out", "m.tflite", "--seed", "one"], "argument --seed: invalid int value: 'one'"),
    ("convert.evaluate", ["--model", "m.tflite", "--data", "d", "--limit", "5", "--seed", "-2"],
     "argument --seed: -2: must be 0 or positive"),
    ("convert.evaluate", ["--model", "m.tflite", "--data", "d", "--split", "train-holdout", "--holdout-seed", "-7"],
     "argument --holdout-seed: -7: must be 0 or positive"),
    ("convert.evaluate", ["--model", "m.tflite", "--data", "d", "--out-dir", ""], "argument --out-dir: empty path"),
    ("convert", ["--run", "r", "--out", ""], "argument --out: empty path"),
], ids=["convert-bad-value", "convert-missing-flag", "evaluate-unknown-flag", "convert-negative-seed",
        "convert-seed-not-int", "evaluate-negative-seed", "evaluate-negative-holdout-seed", "evaluate-empty-out-dir",
        "convert-empty-out"])
def test_bad_flags_are_one_line(module: str, args: list[str], message: str) -> None:
    """Usage mistakes are one line too (no argparse usage block), exit 2, before any file is looked at."""
    result = run_module(module, *args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [f"error: command line: {message} (see python -m {module} --help)"]


def test_convert_never_writes_its_sidecar_over_a_run_record(converted: Converted, tmp_path: Path) -> None:
    """`--out <run>/run.tflite` would put the sidecar over the run's own run.json (its offsets and lineage)."""
    run = run_copy(converted, tmp_path / "run")
    record = (run / "run.json").read_text()
    result = run_module("convert", "--run", run, "--out", run / "run.tflite")
    assert "which is not a model sidecar" in assert_one_line_error(result, f"--out {run / 'run.tflite'}")
    assert (run / "run.json").read_text() == record and not (run / "run.tflite").exists()
