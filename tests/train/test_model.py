"""train.model: the multiply-accumulates it reports, narrow early blocks, learned pooling, and the mirror-averaged
wrapper convert builds."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from train.config import checkpoint_architecture
from train.model import block_filters, build_model, count_macs, mirror_averaged

MAC_BUDGET = 150_000_000  # the model issue's budget per face


def vgg_macs(width: int, dense: int = 256, classes: int = 7, size: int = 48, early: int | None = None) -> int:
    """The same count by hand: 3x3 'same' convs, two per block, 2x2 pooling between the four blocks; blocks 1-2
    start from `early` filters instead of `width` when it is given."""
    total, channels = 0, 1
    for block in range(4):
        side = size // 2 ** block
        for _ in range(2):
            out = (width if early is None or block >= 2 else early) * 2 ** block
            total += side * side * 9 * channels * out
            channels = out
    return total + channels * dense + dense * classes


def test_macs_are_the_hand_count() -> None:
    assert count_macs(build_model(32)) == vgg_macs(32) == 117_516_032
    assert count_macs(build_model(24)) == vgg_macs(24)
    last_map = 6 * 6 * 8 * 32  # learned pooling: one multiply-accumulate per value of the last 6x6 map
    assert count_macs(build_model(32, pooling="learned")) == vgg_macs(32) + last_map
    assert count_macs(build_model(32, early_width=16)) == vgg_macs(32, early=16) == 72_062_720


def test_narrow_early_blocks_keep_the_deep_blocks_and_fit_a_mirror_pass_in_the_budget(tmp_path) -> None:
    """--early-width 16 under width 32: blocks 1-2 narrowed, blocks 3-4 as width 32's, so nearly every weight is
    kept while the net and its mirror pass fit the budget; the archive says so, so a tail started from it keeps it."""
    narrow, full = build_model(32, early_width=16), build_model(32)
    assert block_filters(32, 16) == (16, 32, 128, 256) and block_filters(32) == (32, 64, 128, 256)
    assert [narrow.get_layer(f"b{block}c2_conv").filters for block in range(1, 5)] == [16, 32, 128, 256]
    assert 0.9 < narrow.count_params() / full.count_params() < 0.95
    assert count_macs(mirror_averaged(full)) > MAC_BUDGET >= count_macs(mirror_averaged(narrow))
    narrow.save(tmp_path / "narrow.keras")
    assert checkpoint_architecture(tmp_path / "narrow.keras") == {"width": 32, "early_width": 16, "dense_units": 256,
                                                                 "dropout": 0.4, "pooling": "average",
                                                                 "last_block_convs": 2, "symmetry": "none"}


def test_a_deeper_last_block_adds_one_full_size_conv_of_cost_and_is_read_back_from_the_archive(tmp_path) -> None:
    """--last-block-convs 3: a third 3x3 conv on block 4's 6x6 map of 8 x width channels costs as much as block 1's
    second conv at 48x48, which keeps width 32 inside the budget; the archive says how deep block 4 is."""
    deep = build_model(32, last_block_convs=3)
    third_conv = 6 * 6 * 9 * 256 * 256
    assert count_macs(deep) == vgg_macs(32) + third_conv == 138_749_696 <= MAC_BUDGET
    assert [layer.name for layer in deep.layers if layer.name.startswith("b4c")][-3:] == [
        "b4c3_conv", "b4c3_bn", "b4c3_relu"]
    deep.save(tmp_path / "deep.keras")
    assert checkpoint_architecture(tmp_path / "deep.keras")["last_block_convs"] == 3
    assert checkpoint_architecture(tmp_path / "deep.keras")["width"] == 32


def test_learned_pooling_starts_as_the_average_and_is_read_back_from_the_archive(tmp_path) -> None:
    """A net with learned pooling and the same weights answers exactly as global average pooling until it trains;
    its archive says which pooling it has, so a run started from it keeps it."""
    keras.utils.set_random_seed(0)
    average = build_model(8)
    learned = build_model(8, pooling="learned")
    by_name = {layer.name: layer for layer in learned.layers}
    for layer in average.layers:
        if layer.weights:
            by_name[layer.name].set_weights(layer.get_weights())
    faces = np.random.default_rng(1).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(learned.predict(faces, verbose=0), average.predict(faces, verbose=0), atol=1e-5)
    for name, model in (("average", average), ("learned", learned)):
        model.save(tmp_path / f"{name}.keras")
        assert checkpoint_architecture(tmp_path / f"{name}.keras") == {"width": 8, "early_width": 8, "dense_units": 256,
                                                                      "dropout": 0.4, "pooling": name,
                                                                      "last_block_convs": 2, "symmetry": "none"}
    with pytest.raises(ValueError, match="pooling 'max': not one of average, learned"):
        build_model(8, pooling="max")


def test_a_mirror_averaged_net_costs_two_passes_and_answers_a_face_and_its_mirror_alike(tmp_path) -> None:
    net = build_model(8)
    averaged = mirror_averaged(net)
    mirror_averaged(net)  # a second wrapper around the same net does not change either count
    assert count_macs(averaged) == 2 * count_macs(net)
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    answers = averaged.predict(faces, verbose=0)
    np.testing.assert_allclose(answers, averaged.predict(faces[:, :, ::-1], verbose=0), atol=1e-6)
    assert np.abs(net.predict(faces, verbose=0) - net.predict(faces[:, :, ::-1], verbose=0)).max() > 1e-4
    averaged.save(tmp_path / "averaged.keras")  # the Mirror layer is registered: the saved model loads
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "averaged.keras").predict(faces, verbose=0),
                               answers, atol=1e-6)
