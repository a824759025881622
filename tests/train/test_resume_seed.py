"""A resumed run gets a fresh shuffle order; a fresh run stays reproducible."""

import keras
import numpy as np


def test_a_resumed_run_gets_a_new_shuffle_order_and_a_fresh_run_keeps_its_own():
    from train.augment import AugmentConfig
    from train.config import TrainConfig
    from train.data import Split
    from train.fit import data_seed, make_datasets

    rng = np.random.default_rng(1)
    split = Split("train", rng.integers(0, 256, (64, 48, 48, 1), dtype=np.uint8), rng.integers(0, 7, 64))
    config = TrainConfig(batch_size=16)

    def first_batch(seed):
        keras.utils.set_random_seed(seed)  # as fit() does
        train_ds, _ = make_datasets(split, split, config, AugmentConfig(), seed)
        return next(iter(train_ds))[1].numpy().argmax(1)  # the shuffled order (the labels of the first batch)

    assert data_seed(42, 0) == 42  # a fresh run keeps its seed
    np.testing.assert_array_equal(first_batch(data_seed(42, 0)), first_batch(data_seed(42, 0)))
    assert not np.array_equal(first_batch(data_seed(42, 0)), first_batch(data_seed(42, 6)))
