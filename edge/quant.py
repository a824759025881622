"""Integer (de)quantisation, in one place: real = scale * (q - zero_point)."""

from __future__ import annotations

import numpy as np

INTEGER_DTYPES = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16}


def quantize(real: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    """Map real values to `dtype` integers (round half to even, saturating); float dtypes pass through."""
    if dtype not in INTEGER_DTYPES:
        return real.astype(dtype, copy=False)
    info = np.iinfo(INTEGER_DTYPES[dtype])
    q = np.rint(real / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(INTEGER_DTYPES[dtype])


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Map quantised integers back to float32 reals; float input is returned as float32."""
    if not np.issubdtype(q.dtype, np.integer):
        return q.astype(np.float32, copy=False)
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
