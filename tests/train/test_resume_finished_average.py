"""Resuming a finished run whose kept model (model.keras) is its weight average: the best epoch that average beat
is gone (model.keras held it), so the old average must not stay the final model of a longer schedule. With the
same flags the resume changes nothing; with more epochs the model is chosen again among the new epochs and their
average. state.json says which one model.keras holds; for the state of an older version, model.keras itself is
compared with the saved mean."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import REPO
from tests.synthetic import write_image_folders

TIMEOUT = 600
TINY_RUN = ("--width", "4", "--dense-units", "16", "--batch-size", "16", "--mixed-precision", "off",
            "--eval-split", "none", "--schedule", "constant", "--lr", "0.01", "--average-last", "2")


def archive_weights(path: Path) -> dict[str, np.ndarray]:
    """Every array of a .keras archive's weights file, by its path in the file (read without Keras)."""
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
        arrays: dict[str, np.ndarray] = {}

        def keep(name: str, item: h5py.HLObject) -> None:  # a visitor that returns None visits every item
            if isinstance(item, h5py.Dataset):
                arrays[name] = item[()]

        weights.visititems(keep)
        return arrays


def holds_mean_kernels(model: Path, average: Path) -> bool:
    """Whether the model's first conv kernel is the saved mean's (w0), exactly (as train.fit keeps it)."""
    with np.load(average) as saved:
        first = saved["w0"].astype(np.float32)
    return any(value.shape == first.shape and np.array_equal(value, first) for value in archive_weights(model).values())


def set_state(out: Path, **changes: object) -> None:
    """Edit state.json: a value of None removes the key."""
    state = json.loads((out / "state.json").read_text())
    state.update(changes)
    state = {key: value for key, value in state.items() if value is not None}
    (out / "state.json").write_text(json.dumps(state))


def train(cmd: list[str], *extra: str) -> str:
    result = subprocess.run([*cmd, *extra], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A finished --epochs 3 --average-last 2 run whose model.keras is its weight average: which one wins on the
    tiny slice is chance, so the best epoch is set to -1 and the run resumed (nothing to train: the average is
    compared again and kept). Then resumed once more with the same flags: the same model, nothing trained."""
    root = tmp_path_factory.mktemp("finished_average")
    data = write_image_folders(root / "data", {"train": 12})
    out = root / "run"
    cmd = [sys.executable, "-m", "train", "--data", str(data), "--out", str(out), "--cache-dir", str(root / "cache"),
           *TINY_RUN, "--epochs", "3"]
    train(cmd)
    set_state(out, best_val_accuracy=-1.0)
    stdout = train(cmd, "--resume")
    assert "weight average of 2 epochs: val_accuracy" in stdout and "epoch 4" not in stdout
    assert holds_mean_kernels(out / "model.keras", out / "average.npz")
    before = archive_weights(out / "model.keras")

    stdout = train(cmd, "--resume")  # the same flags: a no-op that keeps the same final model
    assert "epoch 4" not in stdout
    after = archive_weights(out / "model.keras")
    assert after.keys() == before.keys()
    for name, value in before.items():
        np.testing.assert_allclose(after[name], value, atol=1e-5, err_msg=name)
    assert json.loads((out / "run.json").read_text())["config"]["epochs"] == 3
    return out, cmd


@pytest.mark.timeout(900)  # with the module's run: five short training processes, slow on a busy machine
@pytest.mark.parametrize("state_of", ["this version", "an older version"])
def test_more_epochs_never_leave_the_finished_runs_average_as_the_model(finished, tmp_path, state_of):
    """--epochs 5 --resume, with a best epoch (1.0) that no new epoch nor their average can beat: the old code
    kept the finished run's average of epochs 2-3 as model.keras, and reported it as the 5-epoch run."""
    source, cmd = finished
    out = tmp_path / "run"
    shutil.copytree(source, out)
    shutil.copy(out / "average.npz", tmp_path / "old_average.npz")
    set_state(out, best_val_accuracy=1.0, average_kept=True if state_of == "this version" else None)
    cmd = [*cmd[:cmd.index("--out") + 1], str(out), *cmd[cmd.index("--out") + 2:]]

    stdout = train(cmd, "--epochs", "5", "--resume")
    assert "epoch 5/5" in stdout
    assert not holds_mean_kernels(out / "model.keras", tmp_path / "old_average.npz")
    assert "model.keras holds the weight average the run kept" in stdout
    state = json.loads((out / "state.json").read_text())
    with (out / "history.csv").open() as handle:
        new_epochs = [float(row["val_accuracy"]) for row in csv.DictReader(handle) if int(row["epoch"]) >= 3]
    assert len(new_epochs) == 2
    assert state["best_val_accuracy"] == pytest.approx(max(new_epochs))  # the best of the new epochs
    if state["average_kept"]:
        assert "(no epoch to compare with)" not in stdout
        assert holds_mean_kernels(out / "model.keras", out / "average.npz")  # the new epochs' average
    else:
        assert not holds_mean_kernels(out / "model.keras", out / "average.npz")
    with np.load(out / "average.npz") as saved:
        assert (int(saved["first_epoch"]), int(saved["last_epoch"])) == (3, 4)
    assert json.loads((out / "run.json").read_text())["config"]["epochs"] == 5


def test_the_kept_average_is_told_from_an_epoch_by_model_keras_itself(tmp_path):
    """A state of an older version does not say what model.keras holds. The kept average has the mean's kernels
    and recomputed batch-norm statistics; an epoch has other kernels, or, when a mean holds only that epoch,
    the mean's statistics too. What a state says is taken as it is."""
    import keras

    from train.averaging import WeightAverage, recalibrate_batch_norm
    from train.config import AVERAGE_KEPT
    from train.fit import holds_kept_average, save_model
    from train.model import build_model
    from train.reports import fold_class_bias

    rng = np.random.default_rng(0)
    model = build_model(width=4, dense_units=8)
    faces = rng.integers(0, 256, (32, 48, 48, 1)).astype("float32")
    average = WeightAverage(tmp_path, first_epoch=0)
    average.set_model(model)

    def next_epoch(epoch: int) -> None:
        model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in model.get_weights()])
        model(faces, training=True)  # moves the batch-norm statistics, as training does
        average.on_epoch_end(epoch)

    def holds(saved: keras.Model, state: dict | None = None) -> bool:
        save_model(saved, tmp_path / "model.keras")
        return holds_kept_average(tmp_path, state or {})

    next_epoch(0)
    assert not holds(model)  # the one epoch of the mean, as the best epoch
    next_epoch(1)
    assert not holds(model)
    kept = keras.models.clone_model(model)
    assert average.apply(kept)
    recalibrate_batch_norm(kept, faces)
    fold_class_bias(kept, np.linspace(-0.5, 0.5, 7))
    assert holds(kept)
    assert not holds(kept, {AVERAGE_KEPT: False}) and holds(model, {AVERAGE_KEPT: True})
    (tmp_path / "average.npz").unlink()
    assert not holds(kept)  # nothing to compare with: taken for an epoch, as before
