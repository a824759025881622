"""Reading a training run folder (docs/CONTRACTS.md) without TensorFlow, so bad input fails fast."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from convert.errors import ConvertError
from train.config import keras_archive_problem
from train.data import TRAIN_SLICE

MODEL_FILE = "model.keras"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunFolder:
    """What convert needs from a run: the best checkpoint, its labels and the dataset it was trained on."""

    path: Path
    model_path: Path
    labels: tuple[str, ...]
    input_shape: tuple[int, ...]
    data: Path | None
    mixed_precision: bool
    fitted_splits: tuple[str, ...] = ("train",)  # splits the weights saw; figures on these are not held out
    validation: dict | None = None  # the faces that chose the model (sidecar "validation"); None if unrecorded
    mirror_symmetric: bool = False  # trained with --symmetry mirror: it answers a face and its mirror image alike


def validation_of(info: dict) -> dict | None:
    """run.json's validation faces as the sidecar records them: another split, or train's slice with the seed
    and fraction that cut it; None for records older than the "val_split" field."""
    if "val_split" not in info:
        return None
    fingerprint = info.get("val_fingerprint")
    if info["val_split"]:
        return {"split": str(info["val_split"]), "seed": None, "fraction": None, "fingerprint": fingerprint}
    return {"split": TRAIN_SLICE, "seed": info.get("config", {}).get("seed"),
            "fraction": info.get("val_fraction"), "fingerprint": fingerprint}


def _read_run_json(path: Path) -> dict:
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConvertError(path, f"unreadable JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(info, dict):
        raise ConvertError(path, "expected a JSON object")
    labels = info.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ConvertError(path, "'labels' must be a non-empty list of class names")
    shape = info.get("input_shape")
    if not isinstance(shape, list) or len(shape) != 3 or not all(isinstance(x, int) and x > 0 for x in shape):
        raise ConvertError(path, "'input_shape' must be [height, width, channels]")
    return info


def _check_keras_archive(path: Path) -> None:
    problem = keras_archive_problem(path)
    if problem:
        raise ConvertError(path, problem)


def read_run(path: Path) -> RunFolder:
    """Validate the run folder layout; every problem is a ConvertError naming the offending file."""
    if path.is_file():
        raise ConvertError(path, "is a file; give the run folder that python -m train --out wrote")
    if not path.is_dir():
        raise ConvertError(path, "run folder not found")
    run_json, model = path / RUN_FILE, path / MODEL_FILE
    if not run_json.is_file():
        raise ConvertError(run_json, "not found (is the run finished? `python -m train` writes it at the end)")
    if not model.is_file():
        raise ConvertError(model, "not found (the run folder has no trained model)")
    info = _read_run_json(run_json)
    _check_keras_archive(model)
    data = Path(info["data"]) if isinstance(info.get("data"), str) and info["data"] else None
    fitted = info.get("fitted_splits") or ["train"]
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    return RunFolder(path, model, tuple(info["labels"]), tuple(info["input_shape"]), data,
                     bool(info.get("mixed_precision", False)), tuple(map(str, fitted)), validation_of(info),
                     config.get("symmetry") == "mirror")
