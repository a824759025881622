"""Proof that a converted model is full-integer: int8 I/O, no float op, no (de)quantise at the edges.

A float op left in the graph would run in float on the Pi (slow) or not at all on integer-only
accelerators, and QUANTIZE/DEQUANTIZE at the edges would mean the I/O contract is not int8. The input must
take raw 0-255 pixels (scale 1.0, zero point -128): any other scale, e.g. one learnt from calibration faces
that never reach 255, would clip the brightest pixels on the device.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convert.errors import ConvertError, QualityGateError
from convert.litert import load_interpreter

log = logging.getLogger(__name__)

INTEGER_IO_DTYPE = "int8"
FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")
EDGE_CONVERSION_OPS = ("QUANTIZE", "DEQUANTIZE")
DELEGATE_OP = "DELEGATE"
FINAL_OP = "SOFTMAX"
SOFTMAX_SCALE = 1.0 / 256.0
SOFTMAX_ZERO_POINT = -128
PIXEL_SCALE = 1.0  # raw 0-255 pixels: q = pixel - 128
PIXEL_ZERO_POINT = -128


@dataclass(frozen=True)
class TensorIO:
    """Shape, dtype and quantisation of a model input or output, as written to the sidecar."""

    shape: list[int]
    dtype: str
    scale: float
    zero_point: int

    def as_dict(self) -> dict:
        return {"shape": self.shape, "dtype": self.dtype, "scale": self.scale, "zero_point": self.zero_point}


@dataclass(frozen=True)
class IntegerModel:
    input: TensorIO
    output: TensorIO
    ops: list[str]


def _tensor_io(detail: dict) -> TensorIO:
    scale, zero_point = detail["quantization"]
    return TensorIO([int(d) for d in detail["shape"]], np.dtype(detail["dtype"]).name, float(scale), int(zero_point))


def list_ops(model_path: Path) -> list[tuple[str, list[str]]]:
    """Each op of the plain (undelegated) graph with the dtypes of its input and output tensors."""
    return _ops(load_interpreter(model_path, plain_ops=True))


def _ops(interpreter: Any) -> list[tuple[str, list[str]]]:  # noqa: ANN401 - a LiteRT Interpreter
    """list_ops for an interpreter already loaded with plain_ops=True."""
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    ops = []
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the only per-op view LiteRT offers
        tensors = [i for i in list(op["inputs"]) + list(op["outputs"]) if i >= 0]
        ops.append((op["op_name"], [dtypes.get(i, "?") for i in tensors]))
    return ops


def check_integer_model(model_path: Path) -> IntegerModel:
    """Raise QualityGateError naming every offending op unless the model is int8 end to end."""
    interpreter = load_interpreter(model_path, plain_ops=True)
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConvertError(model_path, f"expected 1 input and 1 output, found {len(inputs)} and {len(outputs)}")
    model_in, model_out = _tensor_io(inputs[0]), _tensor_io(outputs[0])
    ops = _ops(interpreter)
    problems = []
    for name, io in (("input", model_in), ("output", model_out)):
        if io.dtype != INTEGER_IO_DTYPE:
            problems.append(f"{name} tensor is {io.dtype}, expected {INTEGER_IO_DTYPE}")
    if model_in.dtype == INTEGER_IO_DTYPE and (model_in.scale, model_in.zero_point) != (PIXEL_SCALE, PIXEL_ZERO_POINT):
        problems.append(f"input quantised as scale {model_in.scale} zero point {model_in.zero_point}, expected "
                        f"{PIXEL_SCALE} and {PIXEL_ZERO_POINT} (raw 0-255 pixels)")
    bad_ops = [f"{i}:{op}({','.join(d)})" for i, (op, d) in enumerate(ops)
               if op != DELEGATE_OP and (op in EDGE_CONVERSION_OPS or any(t in FLOAT_DTYPES for t in d))]
    if bad_ops:
        problems.append(f"{len(bad_ops)} non-integer op(s): {' '.join(bad_ops)}")
    if not ops or ops[-1][0] != FINAL_OP:
        problems.append(f"last op is {ops[-1][0] if ops else 'missing'}, expected {FINAL_OP}")
    elif (model_out.scale, model_out.zero_point) != (SOFTMAX_SCALE, SOFTMAX_ZERO_POINT):
        problems.append(f"softmax output quantised as scale {model_out.scale} zero point {model_out.zero_point}, "
                        f"expected {SOFTMAX_SCALE} and {SOFTMAX_ZERO_POINT}")
    if problems:
        raise QualityGateError(model_path, "not a full-integer model: " + "; ".join(problems)
                               + f" (all ops: {' '.join(op for op, _ in ops)})")
    log.info("full-integer check passed: %d ops (%s), input %s %s, output %s %s", len(ops),
             " ".join(op for op, _ in ops), model_in.dtype, model_in.shape, model_out.dtype, model_out.shape)
    return IntegerModel(model_in, model_out, [op for op, _ in ops])
