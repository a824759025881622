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


def average_epochs(out, first_epoch: int, values: dict[int, float], resume_at: int | None = None):
    """A WeightAverage of the window from `first_epoch`, fed the epochs of `values` (epoch: every weight's value);
    resumed first (from a model of the value of epoch `resume_at`) when `resume_at` is given."""
    model = dense_model()
    average = WeightAverage(out, first_epoch=first_epoch)
    average.set_model(model)
    if resume_at is not None:
        model.set_weights([np.full_like(w, values[resume_at]) for w in model.get_weights()])
        average.resume(model, last_epoch=resume_at)
    for epoch, value in values.items():
        if resume_at is None or epoch > resume_at:
            model.set_weights([np.full_like(w, value) for w in model.get_weights()])
            average.on_epoch_end(epoch)
    return average, model


def averaged_value(average: WeightAverage, model) -> float:
    assert average.apply(model)
    values = {float(np.round(w, 6).flat[0]) for w in model.get_weights()}
    assert len(values) == 1
    return values.pop()


def test_a_resume_with_more_epochs_averages_only_the_new_last_epochs(tmp_path):
    """--epochs 4 --average-last 2, finished, then --epochs 6 --resume: the window is epochs 5-6 (0-based 4-5);
    the saved mean of epochs 3-4 must not join it."""
    average_epochs(tmp_path, 2, {0: 100.0, 1: 100.0, 2: 3.0, 3: 5.0})
    resumed, model = average_epochs(tmp_path, 4, {3: 5.0, 4: 10.0, 5: 20.0}, resume_at=3)
    assert averaged_value(resumed, model) == 15.0  # not (3 + 5 + 10 + 20) / 4
    assert (resumed.count, resumed.first_averaged, resumed.last_epoch) == (2, 4, 5)
    with np.load(tmp_path / AVERAGE_FILE) as saved:
        assert (int(saved["first_epoch"]), int(saved["last_epoch"]), int(saved["count"])) == (4, 5, 2)


def test_a_resume_whose_window_starts_later_starts_the_mean_at_the_checkpoint_epoch(tmp_path, caplog):
    """--epochs 4 --average-last 2 (epochs 2-3), resumed as --epochs 6 --average-last 3 (epochs 3-5): epoch 2
    leaves the window, so the saved mean is dropped; epoch 3 is the checkpoint's, so the new mean is exact."""
    average_epochs(tmp_path, 2, {2: 3.0, 3: 5.0})
    with caplog.at_level("INFO", logger="train.averaging"):
        resumed, model = average_epochs(tmp_path, 3, {3: 5.0, 4: 10.0, 5: 30.0}, resume_at=3)
    assert "weight average of epochs 3-4 dropped: this schedule averages from epoch 4 on" in caplog.text
    assert (resumed.count, resumed.first_averaged) == (3, 3)
    assert averaged_value(resumed, model) == 15.0


def test_a_resume_whose_window_starts_earlier_keeps_the_mean_it_holds(tmp_path, caplog):
    """--average-last 2 of 6 epochs, interrupted after epoch 5 (0-based 4), resumed with --average-last 4: the
    mean of epoch 4 lies within the new window and is kept; epochs 2-3 were trained before it and are gone."""
    average_epochs(tmp_path, 4, {3: 1.0, 4: 6.0})
    with caplog.at_level("INFO", logger="train.averaging"):
        resumed, model = average_epochs(tmp_path, 2, {4: 6.0, 5: 12.0}, resume_at=4)
    assert "weight average resumed with 1 epochs (epoch 5)" in caplog.text
    assert "epochs 3-4 of the window finished before the mean started" in caplog.text
    assert (resumed.count, resumed.first_averaged, resumed.last_epoch) == (2, 4, 5)
    assert averaged_value(resumed, model) == 9.0


def test_a_resume_before_a_later_window_keeps_nothing_but_the_file(tmp_path):
    """Resumed before the new window opens: nothing is averaged yet, and the file stays until the window's first
    epoch replaces it (a resume with the earlier flags still finds it)."""
    average_epochs(tmp_path, 1, {1: 2.0, 2: 4.0})
    resumed, model = average_epochs(tmp_path, 5, {2: 4.0, 3: 8.0}, resume_at=2)
    assert resumed.count == 0 and not resumed.apply(model)
    again, model = average_epochs(tmp_path, 1, {2: 4.0}, resume_at=2)
    assert again.count == 2 and averaged_value(again, model) == 3.0


def test_resuming_a_finished_averaging_run_with_more_epochs_averages_its_new_last_epochs(tmp_path):
    """A real run: --epochs 4 --average-last 2, then --epochs 6 --resume (as the docs allow): the average of the
    resumed run holds epochs 5-6, not the finished run's 3-4 as well."""
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.synthetic import write_image_folders

    data = write_image_folders(tmp_path / "data", {"train": 12})
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "train", "--data", str(data), "--out", str(out), "--width", "4", "--dense-units",
           "16", "--batch-size", "16", "--mixed-precision", "off", "--eval-split", "none", "--cache-dir",
           str(tmp_path / "cache"), "--schedule", "constant", "--lr", "0.01", "--average-last", "2"]
    for epochs, flags in (("4", []), ("6", ["--resume"])):
        result = subprocess.run([*cmd, "--epochs", epochs, *flags], cwd=REPO, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "weight average of 2 epochs: val_accuracy" in result.stdout
    assert "weight average of epochs 3-4 dropped: this schedule averages from epoch 5 on" in result.stdout
    with np.load(out / AVERAGE_FILE) as saved:
        assert (int(saved["first_epoch"]), int(saved["last_epoch"]), int(saved["count"])) == (4, 5, 2)
