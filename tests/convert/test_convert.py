"""python -m convert on a tiny run trained in the tests: full-integer model, exact sidecar, accuracy gate."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from tests.convert.conftest import CALIB_SIZE, TINY_TRAIN_FLAGS, Converted, run_module
from tests.convert.direct import accuracy_and_macro_f1, dequantized_outputs, predict, read_folder_split
from tests.convert.synthetic import rescaled_copy
from tests.train.test_model import vgg_macs

CONTRACT_KEYS = {"format", "labels", "input", "output", "preprocess", "source_run", "fitted_splits",
                 "validation", "tflite_sha256", "macs", "mirror_average", "mirror_symmetric", "metrics", "created"}
METRIC_KEYS = {"split", "held_out", "n", "float_accuracy", "int8_accuracy", "float_macro_f1", "int8_macro_f1"}
FLOAT_DTYPES = {np.float16, np.float32, np.float64}
MIN_ONE_PASS_FLIPS = 0.05  # the same share for the one-pass int8 net (measured: 15-64 %)
FLIP_REDUCTION = 2  # the mirror-averaged net changes at most half as many (measured: 0.4-4.6 %, a sixth or less)
RAW_PIXEL_QUANTISATION = (1.0, -128)  # input scale and zero point: q = pixel - 128 (docs/CONTRACTS.md)
DIM_PIXELS = (20, 200)  # calibration faces that reach neither 0 nor 255
KERNEL_NOISE_SEEDS = range(11, 21)
MIN_FLOAT_FLIPS = 0.15  # share of faces whose top answer the noisy float net changes for the mirror image


def plain_interpreter(model: Path) -> Interpreter:
    interpreter = Interpreter(model_path=str(model),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return interpreter


def assert_int8_end_to_end(model: Path) -> list[str]:
    """Int8 input and output, no (de)quantise op, no float tensor in any op; returns the op names."""
    interpreter = plain_interpreter(model)
    (detail_in,), (detail_out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert detail_in["dtype"] == np.int8 and detail_out["dtype"] == np.int8
    assert detail_out["quantization"] == (pytest.approx(1 / 256), -128)
    dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    names = [op["op_name"] for op in ops]
    assert "QUANTIZE" not in names and "DEQUANTIZE" not in names, names
    assert names[-1] == "SOFTMAX"
    assert "CONV_2D" in names
    for op in ops:
        used = [dtypes[i] for i in [*op["inputs"], *op["outputs"]] if i >= 0]
        assert not FLOAT_DTYPES.intersection(used), (op["op_name"], used)
    return names


def test_model_is_int8_end_to_end(converted: Converted) -> None:
    assert_int8_end_to_end(converted.model)


def test_a_net_with_learned_pooling_converts_to_int8(converted: Converted, tmp_path: Path) -> None:
    """--pooling learned adds a depthwise conv the size of the last map: int8 too, one more MAC per pooled value."""
    run, out = tmp_path / "learned", tmp_path / "learned.tflite"
    flags = [*TINY_TRAIN_FLAGS, "--pooling", "learned"]
    flags[flags.index("--epochs") + 1] = "2"
    trained = run_module("train", "--data", converted.data, "--out", run, "--cache-dir", tmp_path / "cache", *flags)
    assert trained.returncode == 0, trained.stderr[-2000:]
    result = run_module("convert", "--run", run, "--out", out, "--calib-size", CALIB_SIZE, "--max-drop", "50",
                        "--cache-dir", tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DEPTHWISE_CONV_2D" in assert_int8_end_to_end(out)
    last_map = 6 * 6 * 8 * 4  # the tiny net's last block: 6x6, 8 x width 4 channels
    macs = [json.loads(sidecar.read_text())["macs"] for sidecar in (converted.sidecar, out.with_suffix(".json"))]
    assert macs[1] == macs[0] + last_map


def test_a_tail_of_a_net_with_narrow_early_blocks_keeps_them_and_converts_mirror_averaged(converted: Converted,
                                                                                          tmp_path: Path) -> None:
    """--early-width: a tail started from the checkpoint (no architecture flags) keeps the narrow blocks, and the
    net with its mirror pass converts to int8 at twice the hand-counted multiply-accumulates."""
    stage, tail, out = tmp_path / "stage", tmp_path / "tail", tmp_path / "narrow.tflite"
    flags = [*TINY_TRAIN_FLAGS, "--early-width", "2"]
    flags[flags.index("--epochs") + 1] = "2"
    trained = run_module("train", "--data", converted.data, "--out", stage, "--cache-dir", tmp_path / "cache", *flags)
    assert trained.returncode == 0, trained.stderr[-2000:]
    tailed = run_module("train", "--data", converted.data, "--out", tail, "--cache-dir", tmp_path / "cache",
                        "--init-from", stage / "last.keras", "--epochs", "1", "--warmup-epochs", "0", "--eval-split",
                        "none", "--no-tune-bias")
    assert tailed.returncode == 0, tailed.stderr[-2000:]
    config = json.loads((tail / "run.json").read_text())["config"]
    assert (config["width"], config["early_width"], config["dense_units"]) == (4, 2, 16)
    result = run_module("convert", "--run", tail, "--out", out, "--calib-size", CALIB_SIZE, "--max-drop", "50",
                        "--cache-dir", tmp_path / "cache", "--mirror-average")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "REVERSE_V2" in assert_int8_end_to_end(out)
    assert json.loads(out.with_suffix(".json").read_text())["macs"] == 2 * vgg_macs(4, dense=16, early=2)


def test_sidecar_matches_contract_and_model(converted: Converted) -> None:
    contract = json.loads(converted.sidecar.read_text())
    run = json.loads((converted.run / "run.json").read_text())
    assert set(contract) == CONTRACT_KEYS
    assert contract["format"] == "emotion-model-contract/1"
    assert contract["labels"] == run["labels"]
    assert contract["tflite_sha256"] == hashlib.sha256(converted.model.read_bytes()).hexdigest()
    assert contract["source_run"] == str(converted.run)
    interpreter = plain_interpreter(converted.model)
    detail_in, detail_out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert contract["input"] == {"shape": [1, 48, 48, 1], "dtype": "int8", "scale": detail_in["quantization"][0],
                                 "zero_point": detail_in["quantization"][1]}
    assert contract["input"]["scale"] == 1.0 and contract["input"]["zero_point"] == -128
    assert contract["output"] == {"shape": [1, len(run["labels"])], "dtype": "int8", "scale": 0.00390625,
                                  "zero_point": -128, "kind": "probabilities"}
    assert (contract["output"]["scale"], contract["output"]["zero_point"]) == detail_out["quantization"]
    assert contract["preprocess"] == {"color": "grayscale", "width": 48, "height": 48, "interpolation": "area",
                                      "value_range": [0, 255]}
    assert contract["created"].endswith("+00:00")
    metrics = contract["metrics"]
    assert set(metrics) == METRIC_KEYS
    faces, targets = read_folder_split(converted.data / "test", run["labels"])
    accuracy, macro_f1 = accuracy_and_macro_f1(targets, predict(converted.model, faces), len(run["labels"]))
    assert metrics["split"] == "test" and metrics["n"] == len(targets)
    assert contract["fitted_splits"] == ["train"] and metrics["held_out"] is True
    assert metrics["int8_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert metrics["int8_macro_f1"] == pytest.approx(macro_f1, abs=1e-4)
    assert 0.0 <= metrics["float_accuracy"] <= 1.0 and 0.0 <= metrics["float_macro_f1"] <= 1.0
    assert f"float_accuracy={metrics['float_accuracy']:.4f}" in converted.result.stdout


def test_run_json_records_the_dataset_as_an_absolute_path(converted: Converted) -> None:
    """The tiny run was trained with --data relative to the repository; run.json keeps where it really is, so
    convert's default --data works from any folder."""
    recorded = json.loads((converted.run / "run.json").read_text())["data"]
    assert recorded == str(converted.data.resolve()) and Path(recorded).is_absolute()


def test_sidecar_is_accepted_by_the_edge_reader(converted: Converted) -> None:
    from edge.contract import load_contract

    contract = load_contract(converted.model)
    assert contract.input.dtype == "int8" and contract.output.kind == "probabilities"


def test_float_figures_are_the_keras_model(converted: Converted) -> None:
    """The sidecar's float accuracy is the Keras checkpoint's accuracy on the same faces."""
    import keras

    from train.model import as_float32

    model = as_float32(keras.models.load_model(converted.run / "model.keras", compile=False))
    labels = json.loads(converted.sidecar.read_text())["labels"]
    faces, targets = read_folder_split(converted.data / "test", labels)
    probs = model.predict(faces[..., None].astype("float32"), verbose=0)
    accuracy, macro_f1 = accuracy_and_macro_f1(targets, np.argmax(probs, axis=1), len(labels))
    metrics = json.loads(converted.sidecar.read_text())["metrics"]
    # a different batch size may flip one borderline face (1/84 = 0.012)
    assert metrics["float_accuracy"] == pytest.approx(accuracy, abs=0.013)


def test_figures_on_a_split_the_run_fitted_are_flagged_as_not_held_out(converted: Converted, tmp_path: Path) -> None:
    """A run fitted with --extra-train-split test: convert and evaluate both say its test figures are not
    held out (warning, sidecar, metrics JSON), so nobody quotes them as a held-out result."""
    import shutil

    run = tmp_path / "fitted-on-test"
    shutil.copytree(converted.run, run)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "fitted_splits": ["train", "test"]}))
    out = tmp_path / "fitted.tflite"
    result = run_module("convert", "--run", run, "--out", out, "--calib-size", CALIB_SIZE, "--max-drop", "50",
                        "--cache-dir", tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"test (fitted: not held out, by {run}'s run.json)" in result.stdout
    contract = json.loads(out.with_suffix(".json").read_text())
    assert contract["fitted_splits"] == ["train", "test"] and contract["metrics"]["held_out"] is False
    evaluated = run_module("convert.evaluate", "--model", out, "--data", converted.data, "--out-dir", tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "test (fitted: not held out; sidecar fitted_splits" in evaluated.stdout
    assert evaluated.stdout.strip().splitlines()[-1].endswith(" held_out=no")
    assert json.loads((tmp_path / "fitted_test_metrics.json").read_text())["held_out"] is False
    assert json.loads(converted.sidecar.read_text())["metrics"]["held_out"] is True  # the plain run's is


def test_accuracy_gate_rejects_and_names_the_remedy(converted: Converted, tmp_path: Path) -> None:
    """A negative --max-drop demands int8 beat float by 100 points: impossible, so the gate must fire."""
    out = tmp_path / "new" / "gated.tflite"  # a new folder: it holds the rejected model, so it stays
    result = run_module("convert", "--run", converted.run, "--out", out, "--calib-size", CALIB_SIZE,
                        "--max-drop", "-100", "--cache-dir", tmp_path / "cache")
    assert result.returncode == 3, result.stderr[-2000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {out}: not written") and "quantization-aware training" in line
    assert not out.exists() and not out.with_suffix(".json").exists()
    rejected = out.with_name("gated.rejected.tflite")
    assert rejected.is_file()
    assert json.loads(rejected.with_suffix(".json").read_text())["tflite_sha256"] == \
        hashlib.sha256(rejected.read_bytes()).hexdigest()


@pytest.mark.parametrize("max_drop, fails", [(1.0, False), (0.5, True), (-1.0, True)])
def test_accuracy_gate_threshold(max_drop: float, fails: bool) -> None:
    from convert.errors import QualityGateError
    from convert.pipeline import accuracy_gate

    float_report, int8_report = {"accuracy": 0.650}, {"accuracy": 0.642}  # 0.8 points lost
    if fails:
        with pytest.raises(QualityGateError):
            accuracy_gate(float_report, int8_report, max_drop)
    else:
        assert accuracy_gate(float_report, int8_report, max_drop) == pytest.approx(0.8)


@pytest.mark.parametrize("variant", ["float", "float_io"])
def test_integer_check_catches_float_ops(converted: Converted, tmp_path: Path, variant: str) -> None:
    """A float model, and an int8 model with float I/O (QUANTIZE/DEQUANTIZE at the edges), are refused."""
    import keras
    import tensorflow as tf

    from convert.errors import QualityGateError
    from convert.opcheck import check_integer_model
    from train.model import as_float32

    model = as_float32(keras.models.load_model(converted.run / "model.keras", compile=False))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant == "float_io":
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([rng.uniform(0, 255, (1, 48, 48, 1)).astype("float32")]
                                                    for _ in range(8))
    path = tmp_path / f"{variant}.tflite"
    path.write_bytes(converter.convert())
    with pytest.raises(QualityGateError) as caught:
        check_integer_model(path)
    message = caught.value.one_line()
    assert str(path) in message and "non-integer op" in message
    if variant == "float_io":
        assert "QUANTIZE" in message and "input tensor is float32" in message


def test_calibration_faces_short_of_0_and_255_still_give_a_raw_pixel_input(converted: Converted,
                                                                            tmp_path: Path) -> None:
    """Calibrated on faces of pixels 20..200 only, the input is still quantised for 0..255 (not scale 180/255 with
    everything above 200 clipped to 127 on the device), in the model and in its sidecar."""
    dim = rescaled_copy(converted.data, tmp_path / "dim", *DIM_PIXELS)
    out = tmp_path / "dim.tflite"
    result = run_module("convert", "--run", converted.run, "--out", out, "--data", dim, "--calib-size", CALIB_SIZE,
                        "--max-drop", "50", "--cache-dir", tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-2000:]
    detail_in = plain_interpreter(out).get_input_details()[0]
    assert detail_in["quantization"] == RAW_PIXEL_QUANTISATION
    contract = json.loads(out.with_suffix(".json").read_text())
    assert (contract["input"]["scale"], contract["input"]["zero_point"]) == RAW_PIXEL_QUANTISATION
    assert "calibration faces span pixels 20..200: an all-0 face and an all-255 face added" in result.stdout


@pytest.mark.parametrize("low, high, anchors", [(0, 255, []), (0, 209, [255]), (3, 255, [0]), (20, 200, [0, 255])])
def test_range_anchors_fill_only_the_missing_ends(low: int, high: int, anchors: list[int]) -> None:
    """Faces already reaching 0 and 255 (every real FER-2013 calibration sample) are calibrated exactly as they are."""
    from convert.quantize import range_anchors

    faces = np.full((3, 48, 48, 1), (low + high) // 2, np.float32)
    faces[0, 0, 0, 0], faces[2, 47, 47, 0] = low, high
    added = range_anchors(faces)
    assert added.shape == (len(anchors), 48, 48, 1) and added.dtype == np.float32
    assert [float(a.min()) for a in added] == [float(a.max()) for a in added] == [float(v) for v in anchors]


def test_integer_check_refuses_an_input_not_quantised_for_raw_pixels(converted: Converted, tmp_path: Path) -> None:
    """A model whose input scale was learnt from faces of at most 200 (the converter without range anchors) is not
    full-integer for the device's raw 0-255 pixels: one line naming the model and the quantisation found."""
    import keras
    import tensorflow as tf

    from convert.errors import QualityGateError
    from convert.opcheck import check_integer_model
    from train.model import as_float32

    model = as_float32(keras.models.load_model(converted.run / "model.keras", compile=False))
    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.uniform(0, 200, (1, 48, 48, 1)).astype("float32")]
                                                for _ in range(8))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    path = tmp_path / "learnt_input_range.tflite"
    path.write_bytes(converter.convert())
    scale, zero_point = plain_interpreter(path).get_input_details()[0]["quantization"]
    assert scale < 1.0  # the range the faces gave
    with pytest.raises(QualityGateError) as caught:
        check_integer_model(path)
    message = caught.value.one_line()
    assert "\n" not in message and message.startswith(f"error: {path}: not a full-integer model: ")
    assert f"input quantised as scale {scale} zero point {zero_point}, expected 1.0 and -128" in message
    assert "non-integer op" not in message  # only the input is at fault


def test_integer_check_failure_keeps_the_model_as_rejected_and_names_it(
        converted: Converted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full-integer check runs on the staged copy, whose folder is deleted: like the accuracy gate, the
    refused model is kept as <name>.rejected.tflite and the error names that file, not the vanished one."""
    import tensorflow as tf

    import convert.quantize
    from convert.errors import QualityGateError
    from convert.pipeline import ConvertOptions, convert_run

    def float_flatbuffer(model: object, calibration: np.ndarray) -> bytes:  # what a broken converter might give
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()

    monkeypatch.setattr(convert.quantize, "convert_int8", float_flatbuffer)
    out = tmp_path / "float.tflite"
    rejected = tmp_path / "float.rejected.tflite"
    rejected.with_suffix(".json").write_text("{}")  # a stale sidecar from an earlier rejection
    options = ConvertOptions(converted.run, out, calib_size=int(CALIB_SIZE), cache_dir=tmp_path / "cache")
    with pytest.raises(QualityGateError) as caught:
        convert_run(options)
    line = caught.value.one_line()
    assert line.startswith(f"error: {out}: not written: not a full-integer model") and "non-integer op" in line
    assert f"kept as {rejected} for inspection" in line
    assert str(rejected) in line and ".convert-" not in line  # the staging folder is not what it names
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not rejected.with_suffix(".json").exists()  # no contract describes the refused model
    interpreter = plain_interpreter(rejected)
    assert np.dtype(interpreter.get_input_details()[0]["dtype"]) == np.float32
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # staging folder removed


def mirror_flips(answers: np.ndarray, mirrored_answers: np.ndarray) -> float:
    """Share of faces whose top answer changes for the mirror image."""
    return float(np.mean(np.argmax(answers, axis=1) != np.argmax(mirrored_answers, axis=1)))


def asymmetric_copy(run: Path, out: Path, faces: np.ndarray) -> Path:
    """A copy of the run whose conv and dense kernels carry seeded noise (one standard deviation of each): the
    tiny trained net sometimes comes out nearly mirror-blind by itself (its training is not bit-repeatable; seen
    once: a mean asymmetry of 1.1e-4), and then nothing would show what --mirror-average takes away. Some draws
    of the noise leave a net that answers nearly every face alike (seen: 2 % of faces changed by the mirror
    image, against 25-48 % for most), so the first seed whose float net changes enough of them is kept."""
    import shutil

    import keras

    import train.fit  # noqa: F401 - the run's custom layers

    shutil.copytree(run, out)
    trained = keras.models.load_model(out / "model.keras")
    for seed in KERNEL_NOISE_SEEDS:
        model = keras.models.clone_model(trained)
        model.set_weights(trained.get_weights())
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if layer.name.endswith("_conv") or layer.name == "fc":
                layer.set_weights([w + rng.normal(0, w.std(), w.shape).astype(w.dtype) for w in layer.get_weights()])
        answers = [model.predict(batch[..., None].astype(np.float32), verbose=0)
                   for batch in (faces, faces[:, :, ::-1])]
        if mirror_flips(*answers) >= MIN_FLOAT_FLIPS:
            model.save(out / "model.keras")
            return out
    pytest.fail(f"no noise seed of {list(KERNEL_NOISE_SEEDS)} made the tiny net tell {MIN_FLOAT_FLIPS:.0%} "
                "of faces from their mirror images")


def test_mirror_averaged_model_answers_a_face_and_its_mirror_alike(converted: Converted, tmp_path: Path) -> None:
    """--mirror-average: the int8 model runs the net on the face and its mirror image and averages the logits,
    so a face and its mirror image get the same answer but for rounding, at twice the recorded
    multiply-accumulates."""
    # every face of the synthetic set (504), so that the shares below are steady from run to run
    labels = json.loads(converted.sidecar.read_text())["labels"]
    faces = np.concatenate([read_folder_split(converted.data / split, labels)[0] for split in ("train", "test")])
    run = asymmetric_copy(converted.run, tmp_path / "run", faces)
    one_pass, out = tmp_path / "one_pass.tflite", tmp_path / "mirrored.tflite"
    for model, extra in ((one_pass, ()), (out, ("--mirror-average",))):
        result = run_module("convert", "--run", run, "--out", model, "--calib-size", CALIB_SIZE,
                            "--max-drop", "50", "--cache-dir", tmp_path / "cache", *extra)
        assert result.returncode == 0, result.stderr[-2000:]
    plain, mirrored = (json.loads(path.with_suffix(".json").read_text()) for path in (one_pass, out))
    assert plain["mirror_average"] is False and mirrored["mirror_average"] is True
    assert mirrored["macs"] == 2 * plain["macs"] > 0
    assert mirrored["input"] == plain["input"] and mirrored["output"] == plain["output"]

    answers = {model: [dequantized_outputs(model, batch) for batch in (faces, faces[:, :, ::-1])]
               for model in (one_pass, out)}
    asymmetry = {model: float(np.abs(face - mirror).mean()) for model, (face, mirror) in answers.items()}
    one_pass_flips, mirrored_flips = (mirror_flips(*answers[model]) for model in (one_pass, out))
    # the two passes are calibrated apart (each has its own int8 ranges), so the answers differ by rounding only;
    # the one-pass net does tell them apart, by two output steps at least on average, so that the mirrored net
    # staying under a quarter of it means something
    assert asymmetry[one_pass] > 2 * mirrored["output"]["scale"]
    assert asymmetry[out] < 0.25 * asymmetry[one_pass]
    # rounding can still flip a near-tie (a CI run saw a 6-step gap flip), so the top answers are compared as shares
    assert one_pass_flips > MIN_ONE_PASS_FLIPS
    assert mirrored_flips <= one_pass_flips / FLIP_REDUCTION, (mirrored_flips, one_pass_flips)
