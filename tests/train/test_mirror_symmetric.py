"""train.mirror_symmetric: a net whose answer for a face and its mirror image are the same by construction, written
out as the plain train.model net it equals."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from train.config import checkpoint_architecture
from train.mirror_symmetric import (MirrorConv2D, PairedBatchNormalization, build_mirror_symmetric_model,
                                    is_mirror_symmetric, to_plain)
from train.model import build_model, count_macs

WIDTH, DENSE = 8, 16
FACES = 6
SEED = 7
FLOAT_TOLERANCE = 1e-5


def faces(count: int = FACES) -> np.ndarray:
    """Random faces with a left-right asymmetric gradient, so a face and its mirror image differ."""
    rng = np.random.default_rng(SEED)
    ramp = np.linspace(0, 120, 48, dtype=np.float32)[None, None, :, None]
    return np.clip(rng.uniform(0, 135, (count, 48, 48, 1)).astype(np.float32) + ramp, 0, 255)


def trained_looking(model: keras.Model) -> keras.Model:
    """Random weights everywhere, batch-norm statistics included, so no symmetry comes from an untrained state."""
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        values = layer.get_weights()
        if not values:
            continue
        values = [v + rng.normal(0, 0.2, v.shape).astype(np.float32) for v in values]
        if isinstance(layer, PairedBatchNormalization):
            values[3] = np.abs(values[3]) + 0.5  # a variance
        layer.set_weights(values)
    return model


@pytest.fixture(scope="module")
def symmetric() -> keras.Model:
    return trained_looking(build_mirror_symmetric_model(WIDTH, DENSE))


def logits(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The logits (random weights saturate the softmax, which would hide differences)."""
    return keras.Model(model.input, model.get_layer("logits").output).predict(x, verbose=0)


def test_a_face_and_its_mirror_image_get_the_same_answer(symmetric: keras.Model) -> None:
    x = faces()
    mirrored = x[:, :, ::-1]
    assert np.abs(x - mirrored).max() > 50  # the faces are not symmetric themselves
    direct, of_mirror = logits(symmetric, x), logits(symmetric, mirrored)
    scale = np.abs(direct).max()
    assert np.abs(direct - of_mirror).max() < FLOAT_TOLERANCE * scale
    assert np.abs(direct - direct[::-1]).max() > 1e-3 * scale  # ... while different faces get different answers


def test_the_plain_net_it_is_written_out_as_computes_the_same(symmetric: keras.Model) -> None:
    plain = to_plain(symmetric)
    assert not is_mirror_symmetric(plain) and is_mirror_symmetric(symmetric)
    assert [type(layer) for layer in plain.layers] == [type(layer) for layer in build_model(WIDTH, DENSE).layers]
    assert plain.count_params() == build_model(WIDTH, DENSE).count_params()
    x = faces()
    expected = logits(symmetric, x)
    assert np.abs(logits(plain, x) - expected).max() < FLOAT_TOLERANCE * np.abs(expected).max()
    assert count_macs(plain) == count_macs(build_model(WIDTH, DENSE))
    # in training, the logits read each pair's mean: half the plain logits layer's multiply-accumulates
    assert count_macs(plain) - count_macs(symmetric) == DENSE // 2 * plain.get_layer("logits").units


def test_it_has_half_the_free_conv_weights_of_the_plain_net(symmetric: keras.Model) -> None:
    def conv_weights(model: keras.Model) -> int:
        return sum(int(np.prod(w.shape)) for layer in model.layers if "_conv" in layer.name for w in layer.weights)
    assert 2 * conv_weights(symmetric) == conv_weights(build_model(WIDTH, DENSE))


def test_the_first_conv_pairs_a_kernel_with_its_mirror_image(symmetric: keras.Model) -> None:
    kernel = np.asarray(symmetric.get_layer("b1c1_conv").full_kernel())
    half = kernel.shape[-1] // 2
    np.testing.assert_array_equal(kernel[..., half:], kernel[:, ::-1, :, :half])


def test_a_saved_checkpoint_loads_with_its_weights_and_names_its_symmetry(symmetric: keras.Model,
                                                                          tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    symmetric.save(path)
    loaded = keras.models.load_model(path)
    x = faces()
    np.testing.assert_array_equal(logits(loaded, x), logits(symmetric, x))
    assert checkpoint_architecture(path) == {"width": WIDTH, "early_width": WIDTH, "dense_units": DENSE,
                                             "dropout": 0.4, "pooling": "average", "last_block_convs": 2,
                                             "symmetry": "mirror"}
    with zipfile.ZipFile(path) as archive:
        assert "MirrorConv2D" in json.dumps(json.loads(archive.read("config.json")))


def test_a_plain_checkpoint_reads_as_no_symmetry(tmp_path: Path) -> None:
    path = tmp_path / "plain.keras"
    build_model(WIDTH, DENSE).save(path)
    assert checkpoint_architecture(path)["symmetry"] == "none"


def test_an_odd_number_of_channels_is_refused() -> None:
    with pytest.raises(ValueError, match="even number"):
        MirrorConv2D(5)
    with pytest.raises(ValueError, match="even number"):
        build_mirror_symmetric_model(WIDTH, dense_units=15)
