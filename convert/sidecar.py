"""The model sidecar (docs/CONTRACTS.md, "emotion-model-contract/1"): built and written here, read by the
edge through edge.contract. Field names and nesting must match the contract document exactly."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path

from edge.contract import CONTRACT_FORMAT, file_sha256, sidecar_path

from convert.opcheck import IntegerModel

OUTPUT_KIND = "probabilities"
PREPROCESS_COLOR = "grayscale"
PREPROCESS_INTERPOLATION = "area"  # cv2.INTER_AREA: what FER-2013's 48x48 crops look like after downscaling
PIXEL_RANGE = [0, 255]  # raw pixels: normalisation is inside the model

__all__ = ["build_contract", "write_json_atomic", "sidecar_path", "file_sha256", "CONTRACT_FORMAT"]


def build_contract(labels: Sequence[str], model: IntegerModel, source_run: str, sha256: str,
                   metrics: dict | None, fitted_splits: Sequence[str] = ("train",),
                   validation: dict | None = None, macs: int | None = None, mirror_average: bool = False,
                   mirror_symmetric: bool = False) -> dict:
    """The sidecar dict; preprocessing size is read from the model's input shape (N, H, W, C).
    `fitted_splits` names the dataset splits the weights were fitted on and `validation` the faces that chose
    the model, so an evaluator can tell a held-out figure from one on faces that trained or chose it. `macs` is
    the multiply-accumulates of one face; `mirror_average` says the model averages each face with its mirror
    image inside (two passes of the net), `mirror_symmetric` that it answers the two alike by construction
    (trained with --symmetry mirror); either way a run-time mirror pass would only cost time."""
    _, height, width, _ = model.input.shape
    return {
        "format": CONTRACT_FORMAT,
        "labels": list(labels),
        "input": model.input.as_dict(),
        "output": {**model.output.as_dict(), "kind": OUTPUT_KIND},
        "preprocess": {"color": PREPROCESS_COLOR, "width": width, "height": height,
                       "interpolation": PREPROCESS_INTERPOLATION, "value_range": PIXEL_RANGE},
        "source_run": source_run,
        "fitted_splits": list(fitted_splits),
        "validation": validation,
        "tflite_sha256": sha256,
        "macs": macs,
        "mirror_average": mirror_average,
        "mirror_symmetric": mirror_symmetric,
        "metrics": metrics,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write_json_atomic(path: Path, value: dict) -> None:
    """Write then rename, so the edge never reads half a sidecar."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)
