"""A mirror-symmetric version of train.model's net: its answer for a face and for the face's mirror image are the
same by construction, at one pass's cost.

Averaging a model's answers for a face and its mirror image gained 0.6-2.2 points on every model measured here,
but costs a second pass (twice the multiply-accumulates, over the budget at width 32). Here every layer's
channels come in mirror pairs (a, b): channel b of a face's features is channel a of the mirror image's, mirrored.
A conv keeps that with two half-size kernels k1, k2 per pair of pairs:

    out_a = k1 * in_a + k2 * in_b        out_b = flip(k2) * in_a + flip(k1) * in_b

(flip: left to right). Batch norm shares its statistics and scale within a pair, the dense layer is built the
same way, and the logits read the mean of each pair, which a face and its mirror image share. So the net is
exactly mirror-invariant (group-equivariant convolution for the left-right flip), with half the free weights of
the plain net of the same width and the same multiply-accumulates.

`to_plain` writes the weights out as train.model's plain net (each conv's full kernel, each pair's batch-norm
values twice, the logits' weights halved over the pair): converter, device and tools see an ordinary model."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from train.labels import IMAGE_SIZE, NUM_CLASSES
from train.model import BLOCK_MULTIPLIERS, CONVS_PER_BLOCK, LOGITS_LAYER, PIXEL_SCALE, block_filters, build_model

PAIR = 2  # channels per mirror pair
KERNEL_SIZE = 3
KERNEL_WIDTH_AXIS = 1  # conv kernels are (height, width, in, out)
CHANNEL_AXIS = -1


def _flip(kernel):
    return ops.flip(kernel, axis=KERNEL_WIDTH_AXIS)


@keras.saving.register_keras_serializable(package="train")
class MirrorConv2D(layers.Layer):
    """A 3x3 'same' conv without bias whose output channels are mirror pairs [a..., b...]. `paired_input` false
    (the grayscale face): out_a = k * x, out_b = flip(k) * x."""

    def __init__(self, filters: int, paired_input: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        if filters % PAIR:
            raise ValueError(f"filters {filters}: a mirror-symmetric conv needs an even number")
        self.filters = filters
        self.paired_input = paired_input

    def build(self, input_shape) -> None:
        channels = input_shape[CHANNEL_AXIS]
        if self.paired_input and channels % PAIR:
            raise ValueError(f"{self.name}: {channels} input channels cannot be mirror pairs")
        half_in = channels // PAIR if self.paired_input else channels
        shape = (KERNEL_SIZE, KERNEL_SIZE, half_in, self.filters // PAIR)
        self.same_side = self.add_weight(name="same_side", shape=shape, initializer="glorot_uniform")
        self.other_side = (self.add_weight(name="other_side", shape=shape, initializer="glorot_uniform")
                           if self.paired_input else None)

    def full_kernel(self):
        """The (3, 3, in, out) kernel of the plain conv this layer is."""
        k1 = self.same_side
        if self.other_side is None:
            return ops.concatenate([k1, _flip(k1)], axis=CHANNEL_AXIS)
        k2 = self.other_side
        from_a = ops.concatenate([k1, _flip(k2)], axis=CHANNEL_AXIS)
        from_b = ops.concatenate([k2, _flip(k1)], axis=CHANNEL_AXIS)
        return ops.concatenate([from_a, from_b], axis=2)

    def call(self, inputs):
        return ops.conv(inputs, ops.cast(self.full_kernel(), inputs.dtype), strides=1, padding="same")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "paired_input": self.paired_input}


@keras.saving.register_keras_serializable(package="train")
class MirrorDense(layers.Layer):
    """A dense layer without bias on pairs [a..., b...]: out_a = A a + B b, out_b = B a + A b."""

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if units % PAIR:
            raise ValueError(f"units {units}: a mirror-symmetric dense layer needs an even number")
        self.units = units

    def build(self, input_shape) -> None:
        shape = (input_shape[CHANNEL_AXIS] // PAIR, self.units // PAIR)
        self.same_side = self.add_weight(name="same_side", shape=shape, initializer="glorot_uniform")
        self.other_side = self.add_weight(name="other_side", shape=shape, initializer="glorot_uniform")

    def full_kernel(self):
        from_a = ops.concatenate([self.same_side, self.other_side], axis=CHANNEL_AXIS)
        from_b = ops.concatenate([self.other_side, self.same_side], axis=CHANNEL_AXIS)
        return ops.concatenate([from_a, from_b], axis=0)

    def call(self, inputs):
        return ops.matmul(inputs, ops.cast(self.full_kernel(), inputs.dtype))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="train")
class PairedBatchNormalization(layers.BatchNormalization):
    """Batch norm whose statistics, scale and offset are shared by the two channels of each mirror pair (a
    BatchNormalization over the pair's half of the channels, so train.averaging recomputes it like any other)."""

    def _paired_shape(self, shape) -> tuple:
        return (*shape[:-1], PAIR, shape[-1] // PAIR)

    def build(self, input_shape) -> None:
        super().build(self._paired_shape(input_shape))
        self.input_spec = None  # the layer takes the unpaired shape; the base class checks the paired one

    def call(self, inputs, training=None, mask=None):
        shape = ops.shape(inputs)
        paired = ops.reshape(inputs, (-1, *self._paired_shape(tuple(inputs.shape[1:]))))
        return ops.reshape(super().call(paired, training=training), shape)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="train")
class PairMean(layers.Layer):
    """The mean of each mirror pair: what a face and its mirror image share."""

    def call(self, inputs):
        half = inputs.shape[CHANNEL_AXIS] // PAIR
        return (inputs[..., :half] + inputs[..., half:]) / PAIR

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // PAIR)


def _conv_bn_relu(x, filters: int, name: str, paired_input: bool = True):
    x = MirrorConv2D(filters, paired_input=paired_input, name=f"{name}_conv")(x)
    x = PairedBatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_mirror_symmetric_model(width: int = 32, dense_units: int = 256, dropout: float = 0.4,
                                 early_width: int | None = None) -> keras.Model:
    """train.model.build_model's net (global average pooling, two convs per block) made mirror-symmetric; layer
    names are the plain net's, so checkpoints read the same way."""
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    x = layers.Rescaling(PIXEL_SCALE, offset=-1.0, name="normalise")(inputs)
    for block, filters in enumerate(block_filters(width, early_width), start=1):
        for conv in range(1, CONVS_PER_BLOCK + 1):
            x = _conv_bn_relu(x, filters, f"b{block}c{conv}", paired_input=(block, conv) != (1, 1))
        if block < len(BLOCK_MULTIPLIERS):
            x = layers.MaxPooling2D(name=f"b{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = MirrorDense(dense_units, name="fc")(x)
    x = PairedBatchNormalization(name="fc_bn")(x)
    x = layers.ReLU(name="fc_relu")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = PairMean(name="pair_mean")(x)
    x = layers.Dense(NUM_CLASSES, name=LOGITS_LAYER, dtype="float32")(x)
    outputs = layers.Softmax(name="probs", dtype="float32")(x)
    early = "" if early_width in (None, width) else f"e{early_width}"
    return keras.Model(inputs, outputs, name=f"fer_vgg_w{width}{early}_mirror")


def is_mirror_symmetric(model: keras.Model) -> bool:
    return any(isinstance(layer, MirrorConv2D) for layer in model.layers)


def _twice(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values, values], axis=-1)


def to_plain(model: keras.Model) -> keras.Model:
    """train.model's plain float32 net computing what the mirror-symmetric `model` does."""
    width = model.get_layer("b3c1_conv").filters // BLOCK_MULTIPLIERS[2]
    early_width = model.get_layer("b1c1_conv").filters
    fc = model.get_layer("fc")
    dropout = model.get_layer("dropout").rate
    with _float32_policy():
        plain = build_model(width, fc.units, dropout, early_width=early_width)
    for layer in model.layers:
        if not layer.get_weights():
            continue
        target = plain.get_layer(layer.name)
        if isinstance(layer, (MirrorConv2D, MirrorDense)):
            target.set_weights([ops.convert_to_numpy(layer.full_kernel()).astype(np.float32)])
        elif isinstance(layer, PairedBatchNormalization):
            target.set_weights([_twice(np.asarray(w, np.float32)) for w in layer.get_weights()])
        elif layer.name == LOGITS_LAYER:
            kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
            target.set_weights([np.concatenate([kernel, kernel]) / PAIR, bias])
        else:
            target.set_weights([np.asarray(w, np.float32) for w in layer.get_weights()])
    return plain


class _float32_policy:
    """The float32 policy while building, whatever the run set (mixed_bfloat16 while training)."""

    def __enter__(self) -> None:
        self.saved = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")

    def __exit__(self, *exc) -> None:
        keras.mixed_precision.set_global_policy(self.saved)
