"""A compact VGG-style CNN built only from ops with int8 TFLite kernels (conv, BN folded, ReLU, max-pool,
global average pool, dense, softmax). It takes raw 0-255 grayscale pixels; normalisation is inside the
model, so the deployed int8 model is fed raw pixels with input scale 1 and zero point -128."""

from __future__ import annotations

import math

import keras
from keras import layers

from train.config import LEARNED_POOL_LAYER, POOLINGS
from train.labels import IMAGE_SIZE, NUM_CLASSES

BLOCK_MULTIPLIERS = (1, 2, 4, 8)
EARLY_BLOCKS = 2  # the blocks --early-width narrows
CONVS_PER_BLOCK = 2
PIXEL_SCALE = 1.0 / 127.5
LOGITS_LAYER = "logits"
WIDTH_AXIS = 2  # faces are (N, H, W, C)


def _conv_bn_relu(x, filters: int, name: str):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _learned_pool(x):
    """Pooling with one weight per position and channel: a depthwise conv the size of the map, started at the
    plain average. Faces come roughly aligned, so where a feature fires (brows, mouth) may carry meaning that
    global average pooling throws away; this costs one multiply-accumulate per value pooled."""
    height, width = x.shape[1:3]
    x = layers.DepthwiseConv2D((height, width), use_bias=False, name=LEARNED_POOL_LAYER,
                               depthwise_initializer=keras.initializers.Constant(1.0 / (height * width)))(x)
    return layers.Flatten(name="pooled")(x)


def block_filters(width: int, early_width: int | None = None) -> tuple[int, ...]:
    """Filters of the four blocks: width x 1, 2, 4, 8, or blocks 1-2 narrowed to early_width x 1, 2.

    The blocks cost alike (each halves the map and doubles the filters), but blocks 1-2 hold under 3 % of the
    weights: narrowing them halves the multiply-accumulates and keeps almost every parameter."""
    early = width if early_width is None else early_width
    return tuple((early if block < EARLY_BLOCKS else width) * multiplier
                 for block, multiplier in enumerate(BLOCK_MULTIPLIERS))


def build_model(width: int = 32, dense_units: int = 256, dropout: float = 0.4, pooling: str = "average",
                early_width: int | None = None, last_block_convs: int = CONVS_PER_BLOCK) -> keras.Model:
    """Four double-conv blocks (block_filters), max-pool between them, pooling (global average or learned),
    dense head. last_block_convs deepens block 4 alone: on its 6x6 map a conv costs what one of block 1's
    full-size convs does, so depth is added where the features are most abstract."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r}: not one of {', '.join(POOLINGS)}")
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="pixels")
    x = layers.Rescaling(PIXEL_SCALE, offset=-1.0, name="normalise")(inputs)
    for block, filters in enumerate(block_filters(width, early_width), start=1):
        convs = last_block_convs if block == len(BLOCK_MULTIPLIERS) else CONVS_PER_BLOCK
        for conv in range(1, convs + 1):
            x = _conv_bn_relu(x, filters, f"b{block}c{conv}")
        if block < len(BLOCK_MULTIPLIERS):
            x = layers.MaxPooling2D(name=f"b{block}_pool")(x)
    x = _learned_pool(x) if pooling == "learned" else layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(dense_units, use_bias=False, name="fc")(x)
    x = layers.BatchNormalization(name="fc_bn")(x)
    x = layers.ReLU(name="fc_relu")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(NUM_CLASSES, name=LOGITS_LAYER, dtype="float32")(x)
    outputs = layers.Softmax(name="probs", dtype="float32")(x)
    early = "" if early_width in (None, width) else f"e{early_width}"
    deep = "" if last_block_convs == CONVS_PER_BLOCK else f"d{last_block_convs}"
    return keras.Model(inputs, outputs, name=f"fer_vgg_w{width}{early}{deep}")


@keras.saving.register_keras_serializable(package="train")
class Mirror(layers.Layer):
    """The face mirrored left to right (faces are (N, H, W, C)): REVERSE_V2, which has an int8 TFLite kernel."""

    def call(self, faces):
        return keras.ops.flip(faces, axis=WIDTH_AXIS)


def mirror_averaged(model: keras.Model) -> keras.Model:
    """`model` applied to the face and to its mirror image, the two logit vectors averaged before the softmax.

    Training flips faces at random, yet a net's answer for a face and for its mirror image differ; their mean
    is a two-member ensemble that costs a second pass (twice the multiply-accumulates) and no new weights. The
    result answers a face and its mirror image alike."""
    head = keras.Model(model.input, model.get_layer(LOGITS_LAYER).output, name=f"{model.name}_logits")
    faces = keras.Input(model.input_shape[1:], name="pixels")
    logits = layers.Average(name="mirror_average")([head(faces), head(Mirror(name="mirror")(faces))])
    outputs = layers.Softmax(name="probs", dtype="float32")(logits)
    return keras.Model(faces, outputs, name=f"{model.name}_mirror_averaged")


def _call_macs(layer: keras.layers.Layer, node) -> int:  # noqa: ANN001 - a Keras graph node
    """Multiply-accumulates of one call of `layer` (conv and dense layers; the rest is negligible)."""
    if isinstance(layer, keras.Model):
        return count_macs(layer)
    if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D)):  # a depthwise conv reads one channel per output
        _, out_h, out_w, out_c = node.outputs[0].shape
        k_h, k_w = layer.kernel_size
        depthwise = isinstance(layer, layers.DepthwiseConv2D)
        inputs_per_output = 1 if depthwise else node.arguments.keras_tensors[0].shape[-1] // layer.groups
        return out_h * out_w * out_c * k_h * k_w * inputs_per_output
    if isinstance(layer, layers.Dense):
        return node.arguments.keras_tensors[0].shape[-1] * layer.units
    if hasattr(layer, "full_kernel"):  # train.mirror_symmetric's layers: the plain layer they stand for
        positions = math.prod(node.outputs[0].shape[1:-1])
        return positions * math.prod(layer.full_kernel().shape)
    return 0


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one forward pass through `model`: every call in its own graph counts, so a net
    nested inside and called twice (mirror_averaged) counts twice, and its calls in other models not at all."""
    calls = [node for nodes in model._nodes_by_depth.values() for node in nodes]
    return int(sum(_call_macs(node.operation, node) for node in calls))


def as_float32(model: keras.Model) -> keras.Model:
    """Rebuild a mixed_bfloat16 model with float32 layers and the same weights.

    clone_model keeps the bf16 policy, and the TFLite converter then fails with
    "op is neither a custom op nor a flex op"; from_config with float32 dtypes does not.
    """
    config = model.get_config()
    for layer_config in config["layers"]:
        layer_config["config"]["dtype"] = "float32"
    rebuilt = keras.Model.from_config(config)
    rebuilt.set_weights([w.astype("float32") if hasattr(w, "astype") else w for w in model.get_weights()])
    return rebuilt
