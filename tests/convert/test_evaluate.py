"""python -m convert.evaluate: figures equal a direct interpreter computation, TensorFlow never imported."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.convert.conftest import TRAIN_PER_CLASS, Converted, assert_one_line_error, run_module, run_python
from tests.convert.direct import accuracy_and_macro_f1, dequantized_outputs, predict, read_folder_split

SUMMARY = re.compile(r"^accuracy=(0\.\d{4}|1\.0000) macro_f1=(0\.\d{4}|1\.0000) n=(\d+) ms_per_face=(\d+\.\d{3})"
                     r"( mirror_average=yes)?( held_out=no)?$")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

BLOCK_TENSORFLOW = """
import importlib.abc, runpy, sys
attempts = []
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            attempts.append(name)
            raise ModuleNotFoundError(f"{name} blocked by the test", name=name)
        return None
sys.meta_path.insert(0, Block())
sys.argv = ["convert.evaluate", *sys.argv[1:]]
try:
    runpy.run_module("convert.evaluate", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print(f"import-attempts={attempts} loaded={loaded}", file=sys.stderr)
sys.exit(code)
"""


def summary(stdout: str) -> tuple[float, float, int, float]:
    last = stdout.strip().splitlines()[-1]
    match = SUMMARY.match(last)
    assert match, f"last line is not the summary: {last!r}"
    return float(match[1]), float(match[2]), int(match[3]), float(match[4])


def direct_figures(converted: Converted) -> tuple[float, float, int]:
    labels = json.loads(converted.sidecar.read_text())["labels"]
    faces, targets = read_folder_split(converted.data / "test", labels)
    accuracy, macro_f1 = accuracy_and_macro_f1(targets, predict(converted.model, faces), len(labels))
    return accuracy, macro_f1, len(targets)


def test_figures_match_direct_interpreter(converted: Converted, tmp_path: Path) -> None:
    result = run_module("convert.evaluate", "--model", converted.model, "--data", converted.data,
                        "--split", "test", "--out-dir", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    accuracy, macro_f1, n, ms = summary(result.stdout)
    want_accuracy, want_f1, want_n = direct_figures(converted)
    assert n == want_n
    assert accuracy == pytest.approx(want_accuracy, abs=5e-5)
    assert macro_f1 == pytest.approx(want_f1, abs=5e-5)
    assert ms > 0
    for label in json.loads(converted.sidecar.read_text())["labels"]:  # per-class table
        assert re.search(rf"^{label}\s+\d\.\d{{3}}\s+\d\.\d{{3}}\s+\d\.\d{{3}}\s+\d+$", result.stdout, re.M), label
    assert (tmp_path / "tiny_test_confusion.png").read_bytes().startswith(PNG_MAGIC)
    report = json.loads((tmp_path / "tiny_test_metrics.json").read_text())
    assert report["n"] == n and np.sum(report["confusion"]) == n and report["held_out"] is True
    assert report["mirror_average"] is False


def test_mirror_average_scores_the_mean_of_each_face_and_its_mirror_image(converted: Converted,
                                                                          tmp_path: Path) -> None:
    """--mirror-average: the figures are those of each face's probabilities averaged with its mirror image's,
    computed here with a bare interpreter; they go to their own files, beside the plain figures."""
    result = run_module("convert.evaluate", "--model", converted.model, "--data", converted.data,
                        "--split", "test", "--out-dir", tmp_path, "--mirror-average")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1].endswith(" mirror_average=yes")
    accuracy, macro_f1, n, _ = summary(result.stdout)
    labels = json.loads(converted.sidecar.read_text())["labels"]
    faces, targets = read_folder_split(converted.data / "test", labels)

    def probabilities(images: np.ndarray) -> np.ndarray:
        values = dequantized_outputs(converted.model, images)
        return values / values.sum(axis=1, keepdims=True)

    plain, mirrored = probabilities(faces), probabilities(faces[:, :, ::-1])
    assert not np.allclose(plain, mirrored, atol=1e-3)  # the net answers a face and its mirror image differently
    want_accuracy, want_f1 = accuracy_and_macro_f1(targets, np.argmax(plain + mirrored, axis=1), len(labels))
    assert n == len(targets)
    assert accuracy == pytest.approx(want_accuracy, abs=5e-5)
    assert macro_f1 == pytest.approx(want_f1, abs=5e-5)
    report = json.loads((tmp_path / "tiny_test_mirror_metrics.json").read_text())
    assert report["mirror_average"] is True and report["n"] == n
    assert (tmp_path / "tiny_test_mirror_confusion.png").read_bytes().startswith(PNG_MAGIC)


def test_mirror_average_of_a_model_that_averages_itself_is_refused(converted: Converted, tmp_path: Path) -> None:
    model = tmp_path / converted.model.name
    model.write_bytes(converted.model.read_bytes())
    contract = json.loads(converted.sidecar.read_text())
    model.with_suffix(".json").write_text(json.dumps({**contract, "mirror_average": True}))
    result = run_module("convert.evaluate", "--model", model, "--data", converted.data, "--out-dir", tmp_path / "out",
                        "--mirror-average")
    assert "already averages each face with its mirror image" in assert_one_line_error(result, "--mirror-average")
    assert not (tmp_path / "out").exists()
    plain = run_module("convert.evaluate", "--model", model, "--data", converted.data, "--limit", "3")
    assert plain.returncode == 0, plain.stderr[-2000:]  # without the flag it is evaluated as converted


def test_limit_keeps_at_least_one_face_per_class_as_its_help_says(converted: Converted, tmp_path: Path) -> None:
    from train.labels import EMOTIONS

    result = run_module("convert.evaluate", "--model", converted.model, "--data", converted.data, "--limit", "3",
                        "--out-dir", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert summary(result.stdout)[2] == len(EMOTIONS)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tiny_test_limit3_seed0_confusion.png",
                                                                 "tiny_test_limit3_seed0_metrics.json"]
    report = json.loads((tmp_path / "tiny_test_limit3_seed0_metrics.json").read_text())
    assert (report["limit"], report["seed"], report["n"]) == (3, 0, len(EMOTIONS))
    assert "at least one per class" in " ".join(run_module("convert.evaluate", "--help").stdout.split())


def run_seed(converted: Converted) -> int:
    """The tiny run's --seed (42, unless it stayed at chance and was trained again: tests/convert/conftest.py)."""
    return json.loads((converted.run / "run.json").read_text())["config"]["seed"]


def test_train_holdout_is_the_validation_slice_the_run_held_out(converted: Converted, tmp_path: Path) -> None:
    """--split train-holdout evaluates exactly the faces python -m train kept out of training (the seed and
    fraction the sidecar records); they chose the run's epoch and offsets, so they are marked as validation."""
    from train.data import faces_fingerprint, load_split, stratified_holdout
    from train.labels import EMOTIONS

    result = run_module("convert.evaluate", "--model", converted.model, "--data", converted.data,
                        "--split", "train-holdout", "--out-dir", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    accuracy, macro_f1, n, _ = summary(result.stdout)
    run_validation = json.loads((converted.run / "metrics.json").read_text())["validation"]
    assert n == run_validation["n"] == len(EMOTIONS) * round(0.1 * TRAIN_PER_CLASS)
    labels = json.loads(converted.sidecar.read_text())["labels"]
    seed = run_seed(converted)
    _, held_out = stratified_holdout(load_split(converted.data, "train"), 0.1, seed)
    targets = np.asarray([labels.index(EMOTIONS[index]) for index in held_out.y])
    want_accuracy, want_f1 = accuracy_and_macro_f1(targets, predict(converted.model, held_out.x[..., 0]), len(labels))
    assert (accuracy, macro_f1) == (pytest.approx(want_accuracy, abs=5e-5), pytest.approx(want_f1, abs=5e-5))
    report = json.loads((tmp_path / "tiny_train-holdout_metrics.json").read_text())
    assert report["held_out"] is False and report["not_held_out_because"] == "validation"
    assert result.stdout.strip().endswith(" held_out=no")
    assert json.loads(converted.sidecar.read_text())["validation"] == {
        "split": "train-holdout", "seed": seed, "fraction": 0.1, "fingerprint": faces_fingerprint(held_out)}


def test_the_slice_recut_from_a_reordered_copy_of_the_dataset_is_refused(converted: Converted,
                                                                          tmp_path: Path) -> None:
    """fer2013.csv lists the faces in another order than the image folders, so the same seed cuts another
    slice, mostly of faces the model was fitted on: the sidecar's fingerprint of the real slice catches it."""
    from train.labels import EMOTIONS

    faces, targets = read_folder_split(converted.data / "train", list(EMOTIONS))
    order = np.random.default_rng(3).permutation(len(faces))
    csv_path = tmp_path / "fer2013.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for index in order:
            writer.writerow([targets[index], " ".join(map(str, faces[index].ravel())), "Training"])
    result = run_module("convert.evaluate", "--model", converted.model, "--data", csv_path,
                        "--split", "train-holdout", "--out-dir", tmp_path)
    assert "are not the ones the model's run validated on" in assert_one_line_error(result, "--split train-holdout")
    in_folder_order = tmp_path / "same-order.csv"
    with in_folder_order.open("w", newline="") as handle:  # the same faces in the folders' order: accepted
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for face, target in zip(faces, targets):
            writer.writerow([target, " ".join(map(str, face.ravel())), "Training"])
    accepted = run_module("convert.evaluate", "--model", converted.model, "--data", in_folder_order,
                          "--split", "train-holdout", "--out-dir", tmp_path)
    assert accepted.returncode == 0, accepted.stderr[-2000:]


def test_a_slice_other_than_the_one_the_run_held_out_is_refused(converted: Converted, tmp_path: Path) -> None:
    seed = run_seed(converted)
    other = seed + 1
    result = run_module("convert.evaluate", "--model", converted.model, "--data", converted.data,
                        "--split", "train-holdout", "--holdout-seed", other, "--out-dir", tmp_path)
    assert assert_one_line_error(result, "--holdout-seed") == (
        f"error: --holdout-seed: {other}: the model's run held out the train-holdout slice of seed {seed} (others "
        "hold faces it was fitted on)")


def test_runs_without_tensorflow_and_reads_csv(converted: Converted, tmp_path: Path) -> None:
    """The Pi path: TF/Keras imports are blocked; the dataset is the CSV format this time."""
    labels = json.loads(converted.sidecar.read_text())["labels"]
    faces, targets = read_folder_split(converted.data / "test", labels)
    csv_path = tmp_path / "fer2013.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for face, target in zip(faces, targets):
            writer.writerow([target, " ".join(map(str, face.ravel())), "PublicTest"])
    confusion = tmp_path / "figs" / "cm.png"
    result = run_python("-c", BLOCK_TENSORFLOW, "--model", converted.model, "--data", csv_path,
                        "--confusion", confusion)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "import-attempts=[] loaded=[]" in result.stderr
    accuracy, macro_f1, n, _ = summary(result.stdout)
    want_accuracy, want_f1, want_n = direct_figures(converted)
    assert (accuracy, n) == (pytest.approx(want_accuracy, abs=5e-5), want_n)
    assert macro_f1 == pytest.approx(want_f1, abs=5e-5)
    assert confusion.read_bytes().startswith(PNG_MAGIC)


def test_blocker_really_blocks(tmp_path: Path) -> None:
    """The no-TensorFlow test above can fail: the same blocker stops a module that imports keras."""
    script = BLOCK_TENSORFLOW.replace('"convert.evaluate"', '"probe"')
    (tmp_path / "probe.py").write_text("import keras\n")
    result = run_python("-c", script, pythonpath=[tmp_path])
    assert result.returncode != 0 and "blocked by the test" in result.stderr


def test_preprocessing_is_the_contract_quantisation(converted: Converted) -> None:
    """Dataset faces go through the edge preprocessing unchanged: int8 = pixel / scale + zero point."""
    from convert.evaluate import face_as_frame, open_classifier

    classifier = open_classifier(converted.model)
    face = np.random.default_rng(1).integers(0, 256, (48, 48, 1), dtype=np.uint8)
    model_input = classifier.preprocess(*face_as_frame(face))
    assert model_input.dtype == np.int8 and model_input.shape == (1, 48, 48, 1)
    np.testing.assert_array_equal(model_input[0].astype(int), face.astype(int) - 128)


@pytest.mark.parametrize("kind", ["probabilities", "logits"])
def test_probs_are_the_classifiers_postprocess_for_either_output_kind(converted: Converted, tmp_path: Path,
                                                                      kind: str) -> None:
    """Evaluation.probs are probabilities whatever the sidecar's output kind: a `logits` model's outputs go
    through the edge's softmax, as on the device, not handed on as logits."""
    from convert.evaluate import evaluate_model
    from train.data import load_split

    model = tmp_path / converted.model.name
    model.write_bytes(converted.model.read_bytes())
    contract = json.loads(converted.sidecar.read_text())
    contract["output"]["kind"] = kind
    model.with_suffix(".json").write_text(json.dumps(contract))
    split = load_split(converted.data, "test")
    values = dequantized_outputs(model, split.x[..., 0])
    if kind == "logits":
        exp = np.exp(values - values.max(axis=1, keepdims=True))
        expected = exp / exp.sum(axis=1, keepdims=True)
    else:
        expected = values / values.sum(axis=1, keepdims=True)
    result = evaluate_model(model, split)
    np.testing.assert_allclose(result.probs, expected, atol=1e-5)
    np.testing.assert_array_equal(result.predicted, np.argmax(values, axis=1))
