"""Full-integer post-training quantisation with the TFLite converter (TensorFlow needed, workstation only).

Calibration feeds real training faces one at a time (batch 1, as the edge runs), so activation ranges
are those of real faces, not of noise. The model is first rebuilt with float32 layers: a
mixed_bfloat16 model converts to ops that are "neither a custom op nor a flex op".
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from train.model import as_float32

from convert.errors import ConvertError

log = logging.getLogger(__name__)

PREDICT_BATCH = 256


def load_float_model(path: Path) -> keras.Model:
    """The run's checkpoint with float32 layers (bf16 policies removed), ready for the converter."""
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad archive
        raise ConvertError(path, f"cannot load Keras model ({exc.__class__.__name__}: {' '.join(str(exc).split())[:200]})") from None
    return as_float32(model)


def predict_float(model: keras.Model, faces: np.ndarray) -> np.ndarray:
    """Softmax probabilities of the float model on raw 0-255 faces (N, H, W, 1)."""
    return np.asarray(model.predict(faces.astype(np.float32), batch_size=PREDICT_BATCH, verbose=0))


def convert_int8(model: keras.Model, calibration: np.ndarray) -> bytes:
    """int8 weights and activations, int8 input and output tensors, builtin int8 kernels only."""
    faces = calibration.astype(np.float32)

    def representative() -> Iterator[list[np.ndarray]]:
        for i in range(len(faces)):
            yield [faces[i:i + 1]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    chatter = io.StringIO()  # Keras' export prints its whole capture list to stdout; keep the log readable
    with contextlib.redirect_stdout(chatter):
        flatbuffer = converter.convert()
    log.debug("converter output:\n%s", chatter.getvalue())
    return flatbuffer
