"""Mixup blends faces, labels and sample weights with the same share, led by each row's own face."""

import numpy as np


def test_each_row_is_the_same_blend_of_two_faces_in_pixels_labels_and_weights():
    import tensorflow as tf

    from train.augment import mix_batch

    count = 7  # one face per class, so a mixed label row tells which two faces were blended and how
    tf.random.set_seed(3)
    values = np.arange(count, dtype=np.float32) * 30.0
    images = tf.constant(np.broadcast_to(values[:, None, None, None], (count, 48, 48, 1)).copy())
    labels = tf.constant(np.eye(count, dtype=np.float32))
    weights = tf.constant(np.linspace(0.5, 2.0, count, dtype=np.float32))
    mixed_images, mixed_labels, mixed_weights = (t.numpy() for t in mix_batch(images, labels, weights, 0.4))

    np.testing.assert_allclose(mixed_labels.sum(1), 1.0, rtol=1e-6)
    own_share = mixed_labels[np.arange(count), np.arange(count)]
    assert (own_share >= 0.5 - 1e-6).all()  # every row led by its own face
    np.testing.assert_allclose(mixed_images[:, 0, 0, 0], mixed_labels @ values, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(mixed_images.std(axis=(1, 2, 3)), 0.0, atol=1e-3)  # whole faces blended
    np.testing.assert_allclose(mixed_weights, mixed_labels @ weights.numpy(), rtol=1e-5)
    assert (own_share < 0.999).any()  # some rows were really blended


def test_mixup_off_leaves_training_labels_one_hot_and_on_blends_them():
    import keras

    from train.augment import AugmentConfig
    from train.config import TrainConfig
    from train.data import Split
    from train.fit import make_datasets

    rng = np.random.default_rng(1)
    split = Split("train", rng.integers(0, 256, (64, 48, 48, 1), dtype=np.uint8), rng.integers(0, 7, 64))

    def first_labels(mixup):
        keras.utils.set_random_seed(5)
        train_ds, _ = make_datasets(split, split, TrainConfig(batch_size=32, mixup=mixup), AugmentConfig())
        return next(iter(train_ds))[1].numpy()

    assert set(np.unique(first_labels(0.0))) == {0.0, 1.0}
    blended = first_labels(0.3)
    np.testing.assert_allclose(blended.sum(1), 1.0, rtol=1e-6)
    assert ((blended > 0.01) & (blended < 0.99)).any()
