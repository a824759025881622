"""Stochastic weight averaging: the running mean survives a restart, and batch-norm statistics are recomputed
exactly for the averaged weights."""

import keras
import numpy as np

from train.averaging import AVERAGE_FILE, WeightAverage, recalibrate_batch_norm


def dense_model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


def test_running_mean_covers_only_the_last_epochs_and_survives_resume(tmp_path):
    model = dense_model()
    average = WeightAverage(tmp_path, first_epoch=1)
    average.set_model(model)
    snapshots = []
    for epoch, value in enumerate((10.0, 1.0, 3.0)):
        weights = [np.full_like(w, value) for w in model.get_weights()]
        model.set_weights(weights)
        snapshots.append(weights)
        average.on_epoch_end(epoch)
    assert average.count == 2 and (tmp_path / AVERAGE_FILE).is_file()

    resumed = WeightAverage(tmp_path, first_epoch=1)
    resumed.resume(model, last_epoch=2)
    assert resumed.count == 2
    target = dense_model()
    assert resumed.apply(target)
    assert all(np.allclose(w, 2.0) for w in target.get_weights())  # mean of 1 and 3, not 10


def test_a_resume_catches_up_the_epoch_saved_only_in_the_checkpoint(tmp_path):
    """Interrupted after the resume state (epoch 2's weights) but before the mean: the resumed mean folds in
    epoch 2 from the checkpoint's weights, once."""
    model = dense_model()
    average = WeightAverage(tmp_path, first_epoch=1)
    average.set_model(model)
    for epoch, value in enumerate((10.0, 1.0)):
        model.set_weights([np.full_like(w, value) for w in model.get_weights()])
        average.on_epoch_end(epoch)
    model.set_weights([np.full_like(w, 4.0) for w in model.get_weights()])  # epoch 2, never averaged

    resumed = WeightAverage(tmp_path, first_epoch=1)
    resumed.resume(model, last_epoch=2)
    assert resumed.count == 2 and resumed.last_epoch == 2
    assert resumed.apply(model) and all(np.allclose(w, 2.5) for w in model.get_weights())  # mean of 1 and 4


def test_a_fresh_run_in_an_old_folder_starts_a_new_mean(tmp_path):
    model = dense_model()
    old = WeightAverage(tmp_path, first_epoch=0)
    old.set_model(model)
    model.set_weights([np.full_like(w, 100.0) for w in model.get_weights()])
    old.on_epoch_end(0)

    fresh = WeightAverage(tmp_path, first_epoch=0)
    fresh.set_model(model)
    model.set_weights([np.full_like(w, 1.0) for w in model.get_weights()])
    fresh.on_epoch_end(0)
    assert fresh.count == 1 and fresh.apply(model) and all(np.allclose(w, 1.0) for w in model.get_weights())


def test_nothing_to_apply_before_the_window(tmp_path):
    model = dense_model()
    average = WeightAverage(tmp_path, first_epoch=5)
    average.set_model(model)
    average.on_epoch_end(0)
    assert not average.apply(model) and not (tmp_path / AVERAGE_FILE).exists()


def test_batch_norm_statistics_are_the_average_of_batch_statistics():
    inputs = keras.Input((4,))
    norm = keras.layers.BatchNormalization()
    model = keras.Model(inputs, norm(inputs))
    rng = np.random.default_rng(0)
    images = rng.normal(3.0, 2.0, size=(512, 4)).astype("float32")
    recalibrate_batch_norm(model, images, batch_size=256)
    halves = images.reshape(2, 256, 4)
    np.testing.assert_allclose(norm.moving_mean.numpy(), halves.mean(axis=1).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(norm.moving_variance.numpy(), halves.var(axis=1).mean(axis=0), rtol=1e-4)
    assert norm.momentum == 0.99  # restored
