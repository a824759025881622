"""Run folder -> verified int8 .tflite + sidecar. The order matters: every input is checked before
TensorFlow loads (bad input fails in a second), and nothing is published at --out until the model has
passed the full-integer check and the accuracy gate, float and int8 measured on the same faces."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from train.data import NOT_HELD_OUT_NOTES, Split, load_split, not_held_out_because, resolve_source, stratified_sample
from train.environment import load_tensorflow
from train.metrics import classification_report, format_table

from convert.errors import ConvertError, QualityGateError
from convert.evaluate import evaluate_model, targets_in_model_order
from convert.opcheck import check_integer_model
from convert.paths import ensure_writable, folders_removed_on_failure
from convert.runfolder import RUN_FILE, RunFolder, read_run
from convert.sidecar import build_contract, file_sha256, sidecar_path, write_json_atomic

log = logging.getLogger(__name__)

SIDECAR_MARK = "tflite_sha256"  # a key every model sidecar has (edge.contract.ModelContract)

POINTS = 100.0  # accuracy is a fraction; the drop limit is in percentage points
REJECTED_TAG = ".rejected"
QAT_HINT = ("try a larger --calib-size; if post-training quantisation still loses too much, fine-tune with "
            "quantization-aware training (docs/CONVERT.md)")


@dataclass(frozen=True)
class ConvertOptions:
    run: Path
    out: Path
    data: Path | None = None
    split: str = "test"
    calib_split: str = "train"
    calib_size: int = 1000
    max_drop: float = 1.0
    seed: int = 0
    cache_dir: Path | None = None
    strict: bool = False
    mirror_average: bool = False


def check_inputs(options: ConvertOptions) -> tuple[RunFolder, Path]:
    """Everything that can be checked without TensorFlow; returns the run and the dataset path."""
    if options.calib_size <= 0:
        raise ConvertError("--calib-size", f"{options.calib_size} must be positive")
    if not math.isfinite(options.max_drop):
        raise ConvertError("--max-drop", f"{options.max_drop} must be a finite number of points")
    ensure_writable(options.out, ".tflite")
    refuse_foreign_sidecar(options.out)
    run = read_run(options.run)
    if options.mirror_average and run.mirror_symmetric:
        raise ConvertError("--mirror-average", f"{options.run} was trained with --symmetry mirror: it already "
                                               "answers a face and its mirror image alike; a second pass would "
                                               "double the cost for the same answer (drop the flag)")
    data = options.data or run.data
    if data is None:
        raise ConvertError(options.run / RUN_FILE, "records no 'data'; pass --data")
    if options.data is None and not data.exists():  # e.g. a relative path recorded by a run trained elsewhere
        raise ConvertError(options.run / RUN_FILE, f"data '{data}' not found; pass --data")
    resolve_source(data)
    return run, data


def refuse_foreign_sidecar(out: Path) -> None:
    """The sidecar goes next to the model as <name>.json: never over a file that is not an earlier sidecar
    (`--out runs/a/run.tflite` would replace the run's own run.json, `state.tflite` its resume state)."""
    sidecar = sidecar_path(out)
    if not sidecar.exists():
        return
    try:
        earlier = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = None
    if not (isinstance(earlier, dict) and SIDECAR_MARK in earlier):
        raise ConvertError(f"--out {out}", f"its sidecar would replace {sidecar}, which is not a model sidecar; "
                                           "choose another file name")


def check_model_shape(model, run: RunFolder) -> None:  # noqa: ANN001 - keras.Model, kept TF-free here
    expected_in, expected_out = list(run.input_shape), len(run.labels)
    actual_in, actual_out = list(model.input_shape[1:]), model.output_shape[-1]
    if actual_in != expected_in or actual_out != expected_out:
        raise ConvertError(run.model_path, f"input {actual_in} / {actual_out} outputs do not match run.json "
                                           f"input_shape {expected_in} / {expected_out} labels")


def accuracy_gate(float_report: dict, int8_report: dict, max_drop: float) -> float:
    """The drop in points; QualityGateError (without path) when int8 loses more than `max_drop` points."""
    drop = (float_report["accuracy"] - int8_report["accuracy"]) * POINTS
    if drop > max_drop:
        raise QualityGateError("int8 model", f"accuracy {int8_report['accuracy']:.4f} is {drop:.2f} points below "
                                             f"float {float_report['accuracy']:.4f} (--max-drop {max_drop})")
    return drop


def _metrics(split: Split, float_report: dict, int8_report: dict, held_out: bool) -> dict:
    return {"split": split.name, "held_out": held_out, "n": int8_report["n"],
            "float_accuracy": round(float_report["accuracy"], 4), "int8_accuracy": round(int8_report["accuracy"], 4),
            "float_macro_f1": round(float_report["macro_f1"], 4), "int8_macro_f1": round(int8_report["macro_f1"], 4)}


def rejected_path(out: Path) -> Path:
    """Where a model that failed a quality gate is kept for inspection: models/x.tflite -> models/x.rejected.tflite."""
    return out.with_name(out.stem + REJECTED_TAG + out.suffix)


def _publish(staged: Path, contract: dict | None, target: Path) -> None:
    """Move the staged model to `target` with its sidecar; without a contract (the model failed before one could
    be built) any older sidecar at `target` is removed, so no stale contract describes the new file."""
    os.replace(staged, target)
    if contract is None:
        sidecar_path(target).unlink(missing_ok=True)
    else:
        write_json_atomic(sidecar_path(target), contract)


def _reject(error: type[ConvertError], problem: str, staged: Path, contract: dict | None, out: Path,
            hint: str = "") -> ConvertError:
    """Keep the staged model as <out>.rejected.tflite (the stage is deleted) and return the error to raise:
    against --out, naming the kept file."""
    rejected = rejected_path(out)
    _publish(staged, contract, rejected)
    return error(out, f"not written: {problem}; kept as {rejected} for inspection" + (f"; {hint}" if hint else ""))


def convert_run(options: ConvertOptions) -> dict:
    """Convert, verify, measure, gate and publish; returns the sidecar written next to --out. A failure leaves
    no new empty --out folder behind (a rejected model kept for inspection keeps its folder)."""
    with folders_removed_on_failure(options.out):
        return _convert_and_publish(options)


def float_model(run: RunFolder, mirror_average: bool):  # -> (keras.Model, MACs per face); TF-free signature
    """The run's model in float32, checked against run.json, mirror-averaged when asked, with its cost per face."""
    from convert.quantize import load_float_model
    from train.model import count_macs, mirror_averaged

    model = load_float_model(run.model_path)
    check_model_shape(model, run)
    if mirror_average:
        model = mirror_averaged(model)
    macs = count_macs(model)
    log.info("%s: %.1f M multiply-accumulates per face", "mirror-averaged net" if mirror_average else "net", macs / 1e6)
    return model, macs


def compare_float_and_int8(model, staged: Path, evaluation: Split, labels: list[str]) -> tuple[dict, dict]:  # noqa: ANN001
    """Float and int8 classification reports on the same faces (the int8 model read through its staged
    sidecar), logged with their top-1 agreement and the int8 cost per face."""
    from convert.quantize import predict_float

    targets = targets_in_model_order(evaluation, labels, staged)
    float_predicted = np.argmax(predict_float(model, evaluation.x), axis=1)
    float_report = classification_report(targets, float_predicted, labels)
    int8 = evaluate_model(staged, evaluation)
    agreement = float(np.mean(float_predicted == int8.predicted))
    log.info("float on %s:\n%s", evaluation.name, format_table(float_report))
    log.info("int8 on %s:\n%s", evaluation.name, format_table(int8.report))
    log.info("float accuracy %.4f macro-F1 %.4f | int8 accuracy %.4f macro-F1 %.4f | top-1 agreement %.4f | "
             "int8 %.3f ms/face", float_report["accuracy"], float_report["macro_f1"], int8.report["accuracy"],
             int8.report["macro_f1"], agreement, int8.ms_per_face)
    return float_report, int8.report


def _convert_and_publish(options: ConvertOptions) -> dict:
    run, data = check_inputs(options)
    calibration_split = load_split(data, options.calib_split, options.cache_dir, options.strict)
    evaluation = load_split(data, options.split, options.cache_dir, options.strict)
    calibration = stratified_sample(calibration_split, options.calib_size, options.seed)
    log.info("calibration: %d %s faces (stratified); evaluation: %d %s faces", len(calibration),
             options.calib_split, len(evaluation), evaluation.name)

    load_tensorflow()  # from here on; its start-up chatter logged, not on stderr
    from convert.quantize import convert_int8

    model, macs = float_model(run, options.mirror_average)
    flatbuffer = convert_int8(model, calibration)
    log.info("converted: %.1f KiB", len(flatbuffer) / 1024)

    out = options.out
    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.stem}.convert-"))
    try:
        staged = stage / out.name
        staged.write_bytes(flatbuffer)
        try:
            integer_model = check_integer_model(staged)
        except ConvertError as exc:  # the staged path dies with the stage: name and keep a file the user can open
            raise _reject(type(exc), exc.problem, staged, None, out) from None
        sha256 = file_sha256(staged)
        contract = build_contract(run.labels, integer_model, str(options.run), sha256, None, run.fitted_splits,
                                  run.validation, macs, options.mirror_average, run.mirror_symmetric)
        write_json_atomic(sidecar_path(staged), contract)  # the evaluator reads the model through it

        float_report, int8_report = compare_float_and_int8(model, staged, evaluation, run.labels)
        reason = not_held_out_because(evaluation.name, run.fitted_splits, (run.validation or {}).get("split"))
        held_out = reason is None
        if not held_out:
            log.warning("%s (%s, by %s's run.json): its figures are not held-out figures", evaluation.name,
                        NOT_HELD_OUT_NOTES[reason], options.run)
        contract["metrics"] = _metrics(evaluation, float_report, int8_report, held_out)
        try:
            accuracy_gate(float_report, int8_report, options.max_drop)
        except QualityGateError as exc:
            raise _reject(QualityGateError, f"int8 {exc.problem}", staged, contract, out, QAT_HINT) from None
        _publish(staged, contract, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log.info("wrote %s (sha256 %s) and its sidecar %s", out, sha256[:12], sidecar_path(out))
    return contract
