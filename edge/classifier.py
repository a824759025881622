"""Emotion classifier on a LiteRT (TFLite) model, configured only from its sidecar.

opencv_zoo style: `preprocess` (crops -> model input), `infer` (interpreter), `postprocess`
(dequantise -> probabilities). Quantisation maths lives in edge.quant.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from edge.config import ClassifierConfig, resolve_data_path
from edge.contract import ModelContract, load_contract
from edge.crop import face_crop
from edge.errors import EdgeError
from edge.litert import load_interpreter
from edge.quant import INTEGER_DTYPES, dequantize, quantize
from edge.types import Box, Prediction

log = logging.getLogger(__name__)

INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST, "cubic": cv2.INTER_CUBIC}
COLOR_CONVERSIONS = {"grayscale": cv2.COLOR_BGR2GRAY, "rgb": cv2.COLOR_BGR2RGB}  # from BGR frames
CLASSIFIER_DEFAULTS = ClassifierConfig()
PIXEL_MAX = 255.0  # crops are 8-bit: a sidecar's value_range maps 0..PIXEL_MAX onto (low, high)
MIN_PROBABILITY_SUM = 1e-12  # below this a row of probabilities is treated as all zero (uniform fallback)


def with_mirror_images(batch: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (2N, H, W, C): each face followed by its mirror image (flipped left to right)."""
    return np.stack([batch, batch[:, :, ::-1]], axis=1).reshape(-1, *batch.shape[1:])


def mean_of_mirror_pairs(probs: np.ndarray) -> np.ndarray:
    """(2N, classes) rows in `with_mirror_images` order -> (N, classes): each face's two rows averaged."""
    return probs.reshape(-1, 2, probs.shape[-1]).mean(axis=1)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


class EmotionClassifier:
    """Classifies face crops; `classify(image, boxes)` returns one Prediction per box.

    With `mirror_average`, each face's mirror image is classified too and the two probability vectors are
    averaged: FER faces are nearly symmetric, and the net errs differently on the two, so the mean is about a
    point more accurate (measured held out, docs/EDGE.md) for twice the invokes' work. `preprocess` then returns
    two rows per face and `postprocess` folds them back into one prediction per face."""

    @classmethod
    def from_config(cls, cfg: ClassifierConfig) -> EmotionClassifier:
        return cls(cfg.model, cfg.num_threads, cfg.batch, cfg.mirror_average)

    def __init__(self, model_path: Path = CLASSIFIER_DEFAULTS.model, num_threads: int = CLASSIFIER_DEFAULTS.num_threads,
                 batch: bool = CLASSIFIER_DEFAULTS.batch,
                 mirror_average: bool = CLASSIFIER_DEFAULTS.mirror_average) -> None:
        self.model_path = resolve_data_path(Path(model_path))
        self.contract: ModelContract = load_contract(self.model_path)
        self.labels = tuple(self.contract.labels)
        self.batch = batch
        built_in = self.contract.mirror_built_in
        self.mirror_average = mirror_average and built_in is None
        if mirror_average and built_in:
            log.warning("classifier.mirror_average: %s %s; classifying one image per face", self.model_path, built_in)
        self._interp = load_interpreter(self.model_path, num_threads)
        self._in = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]
        self._check_against_contract()
        self._batch_size = int(self._in["shape"][0])
        pre = self.contract.preprocess
        self._size = (pre.width, pre.height)
        self._interpolation = INTERPOLATIONS[pre.interpolation]

    def _check_against_contract(self) -> None:
        spec, actual = self.contract.input, self._in
        problems = self._shape_problems()
        if np.dtype(actual["dtype"]).name != spec.dtype:
            problems.append(f"input dtype {np.dtype(actual['dtype']).name} != sidecar {spec.dtype}")
        if np.dtype(self._out["dtype"]).name != self.contract.output.dtype:
            problems.append(f"output dtype {np.dtype(self._out['dtype']).name} != sidecar {self.contract.output.dtype}")
        for name, details, side in (("input", actual, spec), ("output", self._out, self.contract.output)):
            scale, zero_point = details["quantization"]
            if side.dtype in INTEGER_DTYPES and (
                    not np.isclose(scale, side.scale, rtol=1e-5) or zero_point != side.zero_point):
                problems.append(f"{name} quantisation ({scale:g}, {zero_point}) != sidecar ({side.scale:g}, {side.zero_point})")
        if problems:
            raise EdgeError(f"model {self.model_path}", "; ".join(problems))

    def _shape_problems(self) -> list[str]:
        """The model's input and output tensor shapes against the sidecar's, and its input (N, H, W, C) against
        the crops the sidecar's preprocess makes (height, width, and the channels of its colour)."""
        problems = []
        tensors = (("input", self._in, self.contract.input), ("output", self._out, self.contract.output))
        for name, details, side in tensors:
            if details["shape"].tolist()[1:] != side.shape[1:]:
                problems.append(f"{name} shape {details['shape'].tolist()} != sidecar {side.shape}")
        pre, shape = self.contract.preprocess, self._in["shape"].tolist()
        if shape[1:] != [pre.height, pre.width, pre.channels]:
            problems.append(f"input shape {shape} does not fit the sidecar's preprocess (height {pre.height}, "
                            f"width {pre.width}, {pre.color}: {pre.channels} channel(s))")
        return problems

    # --- stages -------------------------------------------------------------------------
    def preprocess(self, image_bgr: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """Crops -> (N, H, W, C) model input, already quantised to the input dtype; (2N, ...) with
        `mirror_average`, each face followed by its mirror image."""
        pre, spec = self.contract.preprocess, self.contract.input
        conversion = COLOR_CONVERSIONS.get(pre.color)

        def crop(box: Box) -> np.ndarray:  # convert only the face, not the whole frame
            face = face_crop(image_bgr, box)  # a face cut by the frame border is padded, not stretched
            return cv2.cvtColor(face, conversion) if conversion is not None else face

        crops = [cv2.resize(crop(b), self._size, interpolation=self._interpolation) for b in boxes]
        batch = np.stack(crops).astype(np.float32).reshape(len(boxes), pre.height, pre.width, -1)
        low, high = pre.value_range
        if (low, high) != (0.0, PIXEL_MAX):
            batch = low + batch * ((high - low) / PIXEL_MAX)
        model_input = quantize(batch, spec.scale, spec.zero_point, spec.dtype)
        return with_mirror_images(model_input) if self.mirror_average else model_input

    def _ensure_batch(self, n: int) -> None:
        if n != self._batch_size:
            self._interp.resize_tensor_input(self._in["index"], [n, *self.contract.input.shape[1:]])
            self._interp.allocate_tensors()
            self._batch_size = n

    def infer(self, model_input: np.ndarray) -> np.ndarray:
        """Raw (still quantised) model output, one row per input row: shape (rows, classes)."""
        n = model_input.shape[0]
        if self.batch:
            self._ensure_batch(n)
            self._interp.set_tensor(self._in["index"], model_input)
            self._interp.invoke()
            return self._interp.get_tensor(self._out["index"]).reshape(n, -1).copy()
        self._ensure_batch(1)
        rows = []
        for i in range(n):
            self._interp.set_tensor(self._in["index"], model_input[i:i + 1])
            self._interp.invoke()
            rows.append(self._interp.get_tensor(self._out["index"]).reshape(-1).copy())
        return np.stack(rows)

    def postprocess(self, raw: np.ndarray) -> list[Prediction]:
        """Raw output rows -> one Prediction per face (with `mirror_average`, a face's two rows averaged)."""
        spec = self.contract.output
        values = dequantize(raw, spec.scale, spec.zero_point)
        probs = softmax(values) if spec.kind == "logits" else np.clip(values, 0.0, None)
        sums = probs.sum(axis=-1, keepdims=True)
        probs = np.where(sums > 0, probs / np.maximum(sums, MIN_PROBABILITY_SUM), 1.0 / probs.shape[-1])
        if self.mirror_average:
            probs = mean_of_mirror_pairs(probs)
        return [Prediction(self.labels, row.astype(np.float32)) for row in probs]

    def classify(self, image_bgr: np.ndarray, boxes: list[Box]) -> list[Prediction]:
        """One Prediction per box, in order (none for no boxes: the interpreter is not invoked)."""
        if not boxes:
            return []
        return self.postprocess(self.infer(self.preprocess(image_bgr, boxes)))

    def close(self) -> None:
        self._interp = None
