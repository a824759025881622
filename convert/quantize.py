"""Full-integer post-training quantisation with the TFLite converter (TensorFlow needed, workstation only).

Calibration feeds real training faces one at a time (batch 1, as the edge runs), so activation ranges
are those of real faces, not of noise. The input range alone is fixed, not learnt: the device feeds raw
0-255 pixels, so the input must be quantised as scale 1.0, zero point -128 (docs/CONTRACTS.md) whatever the
calibration faces' darkest and brightest pixels are. When they do not reach 0 or 255, an all-0 and/or all-255
face is calibrated first (real FER-2013 samples reach both ends, so their representative data is unchanged).
The model is first rebuilt with float32 layers: a mixed_bfloat16 model converts to ops that are "neither a
custom op nor a flex op".
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from train.mirror_symmetric import is_mirror_symmetric, to_plain  # also registers its layers for load_model
from train.model import as_float32

from convert.errors import ConvertError

log = logging.getLogger(__name__)

PREDICT_BATCH = 256
PIXEL_MIN, PIXEL_MAX = 0.0, 255.0  # the raw pixel range the device feeds: input scale 1.0, zero point -128


def load_float_model(path: Path) -> keras.Model:
    """The run's checkpoint with float32 layers (bf16 policies removed), ready for the converter; a
    mirror-symmetric net is written out as the plain net it equals."""
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad archive
        raise ConvertError(path, f"cannot load Keras model ({exc.__class__.__name__}: {' '.join(str(exc).split())[:200]})") from None
    return to_plain(model) if is_mirror_symmetric(model) else as_float32(model)


def predict_float(model: keras.Model, faces: np.ndarray) -> np.ndarray:
    """Softmax probabilities of the float model on raw 0-255 faces (N, H, W, 1)."""
    return np.asarray(model.predict(faces.astype(np.float32), batch_size=PREDICT_BATCH, verbose=0))


def range_anchors(faces: np.ndarray) -> np.ndarray:
    """Uniform faces at whichever end of the 0-255 pixel range `faces` (N, H, W, C) do not reach: calibrated
    with them, the input tensor's range is exactly [0, 255] (scale 1.0, zero point -128) and the normalisation
    ops after it cover every pixel value, instead of clipping pixels brighter (or darker) than any calibration
    face. Empty when the faces already reach both ends, so their conversion is exactly what it was without."""
    shape = faces.shape[1:]
    missing = []
    if faces.min() > PIXEL_MIN:
        missing.append(PIXEL_MIN)
    if faces.max() < PIXEL_MAX:
        missing.append(PIXEL_MAX)
    return np.array([np.full(shape, value, np.float32) for value in missing], np.float32).reshape(-1, *shape)


UNSPECIFIED_INPUT_STATISTICS = "Statistics for quantized inputs were expected"


def convert_int8(model: keras.Model, calibration: np.ndarray) -> bytes:
    """int8 weights and activations, int8 input and output tensors, builtin int8 kernels only; the input
    quantised for raw 0-255 pixels (see range_anchors)."""
    faces = calibration.astype(np.float32)
    anchors = range_anchors(faces)
    if len(anchors):
        log.info("calibration faces span pixels %d..%d: %s added so the input covers 0..255", faces.min(), faces.max(),
                 " and ".join(f"an all-{int(a.flat[0])} face" for a in anchors))
    samples = np.concatenate([anchors, faces])

    def representative() -> Iterator[list[np.ndarray]]:
        for i in range(len(samples)):
            yield [samples[i:i + 1]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    chatter = io.StringIO()  # Keras' export prints its whole capture list to stdout; keep the log readable
    with contextlib.redirect_stdout(chatter), warnings.catch_warnings():
        # the input's quantisation comes from the representative faces (range_anchors), not from input statistics
        warnings.filterwarnings("ignore", message=UNSPECIFIED_INPUT_STATISTICS, category=UserWarning)
        flatbuffer = converter.convert()
    log.debug("converter output:\n%s", chatter.getvalue())
    return flatbuffer
