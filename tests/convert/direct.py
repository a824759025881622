"""An independent reference for the tests: reads the dataset with PIL and runs the .tflite with a bare
LiteRT interpreter, with none of convert/, edge/ or train/ involved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image


def read_folder_split(split_dir: Path, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    faces, targets = [], []
    for index, name in enumerate(labels):
        for path in sorted((split_dir / name).glob("*.png")):
            faces.append(np.asarray(Image.open(path).convert("L")))
            targets.append(index)
    return np.stack(faces), np.asarray(targets)


def raw_outputs(model: Path, faces: np.ndarray) -> np.ndarray:
    """The int8 output row per face, one invoke per face."""
    interpreter = Interpreter(model_path=str(model), num_threads=1)
    interpreter.allocate_tensors()
    detail_in, detail_out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero_point = detail_in["quantization"]
    rows = []
    for face in faces:
        q = np.clip(np.round(face.astype(np.float64) / scale) + zero_point, -128, 127).astype(np.int8)
        interpreter.set_tensor(detail_in["index"], q.reshape(1, *face.shape, 1))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(detail_out["index"])[0].copy())
    return np.stack(rows)


def dequantized_outputs(model: Path, faces: np.ndarray) -> np.ndarray:
    """Each face's output as reals: scale * (q - zero_point)."""
    interpreter = Interpreter(model_path=str(model))
    scale, zero_point = interpreter.get_output_details()[0]["quantization"]
    return scale * (raw_outputs(model, faces).astype(np.float64) - zero_point)


def predict(model: Path, faces: np.ndarray) -> np.ndarray:
    """Top-1 index per face, one invoke per face."""
    return np.argmax(raw_outputs(model, faces), axis=1)


def accuracy_and_macro_f1(targets: np.ndarray, predicted: np.ndarray, classes: int) -> tuple[float, float]:
    f1s = []
    for c in range(classes):
        tp = np.sum((predicted == c) & (targets == c))
        fp = np.sum((predicted == c) & (targets != c))
        fn = np.sum((predicted != c) & (targets == c))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(predicted == targets)), float(np.mean(f1s))
