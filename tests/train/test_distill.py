"""Distillation targets: softened, mirror-averaged teacher probabilities blended with the hard labels."""

import numpy as np


def test_softened_probabilities_flatten_with_temperature_and_keep_the_order():
    from train.distill import softened

    logits = np.array([[4.0, 1.0, 0.0, -2.0, 0.5, 0.0, 1.5]])
    sharp, soft = softened(logits, 1.0), softened(logits, 4.0)
    np.testing.assert_allclose(sharp.sum(1), 1.0)
    np.testing.assert_allclose(soft.sum(1), 1.0)
    assert (np.argsort(sharp[0]) == np.argsort(soft[0])).all()
    assert soft.max() < sharp.max() and soft.min() > sharp.min()
    np.testing.assert_allclose(sharp, np.exp(logits) / np.exp(logits).sum())


def test_blended_rows_mix_one_hot_labels_and_teacher_with_the_given_share():
    from train.distill import blend_targets

    teacher = np.full((3, 7), 1.0 / 7)
    rows = blend_targets(np.array([0, 3, 6]), teacher, 0.25)
    assert rows.dtype == np.float32
    np.testing.assert_allclose(rows.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(rows[[0, 1, 2], [0, 3, 6]], 0.75 + 0.25 / 7, rtol=1e-6)
    np.testing.assert_allclose(blend_targets(np.array([0, 3, 6]), teacher, 1.0), teacher, rtol=1e-6)


def test_mirror_averaged_logits_do_not_change_when_the_face_is_mirrored():
    import keras

    from train.distill import logits_model, mirror_averaged_logits, softened
    from train.model import build_model

    keras.utils.set_random_seed(0)
    model = build_model(4, 16, 0.0)
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1)).astype(np.uint8)
    plain = mirror_averaged_logits(model, faces)
    mirrored = mirror_averaged_logits(model, faces[:, :, ::-1])
    np.testing.assert_allclose(plain, mirrored, rtol=1e-4, atol=1e-4)
    logits = logits_model(model).predict(faces.astype("float32"), verbose=0)  # the head ends before the softmax
    np.testing.assert_allclose(softened(logits, 1.0), model.predict(faces.astype("float32"), verbose=0), atol=1e-4)


def test_soft_targets_replace_the_one_hot_training_rows():
    import keras

    from train.augment import AugmentConfig
    from train.config import TrainConfig
    from train.data import Split
    from train.distill import blend_targets
    from train.fit import make_datasets

    rng = np.random.default_rng(2)
    split = Split("train", rng.integers(0, 256, (32, 48, 48, 1), dtype=np.uint8), rng.integers(0, 7, 32))
    teacher = rng.dirichlet(np.ones(7), 32)
    targets = blend_targets(split.y, teacher, 0.5)
    keras.utils.set_random_seed(5)
    train_ds, _ = make_datasets(split, split, TrainConfig(batch_size=32), AugmentConfig(), targets=targets)
    rows = next(iter(train_ds))[1].numpy()
    # the batch is the whole (shuffled) set: the same rows, none of them one-hot
    order = np.lexsort(rows.T)
    np.testing.assert_allclose(rows[order], targets[np.lexsort(targets.T)], rtol=1e-6)
    assert not set(np.unique(rows)) <= {0.0, 1.0}
