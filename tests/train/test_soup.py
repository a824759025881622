"""Weight soups: the mean of several runs' weights, with the members checked before any data loads."""

import json
from pathlib import Path

import numpy as np
import pytest

from train.data import DataError
from train.soup import check_members, mean_weights


def finished_run(folder: Path, seed: int = 42, fitted=("train",), init_from: str | None = "start.keras",
                 val_fraction: float | None = 0.1, **recorded) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"")  # only its presence is checked here
    record = {"config": {"seed": seed}, "fitted_splits": list(fitted), "init_from": init_from,
              "val_fraction": val_fraction, **recorded}
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def test_mean_weights_is_the_element_wise_mean_of_each_tensor():
    a = [np.ones((2, 3), np.float32), np.array([0.0, 4.0], np.float32)]
    b = [np.zeros((2, 3), np.float32), np.array([2.0, 8.0], np.float32)]
    mixed = mean_weights([a, b])
    np.testing.assert_allclose(mixed[0], np.full((2, 3), 0.5))
    np.testing.assert_allclose(mixed[1], [1.0, 6.0])


def test_mean_weights_refuses_different_architectures():
    with pytest.raises(DataError, match="different architectures"):
        mean_weights([[np.zeros((3, 3))], [np.zeros((3, 4))]])


def test_members_must_share_the_validation_slice_and_the_fitted_splits(tmp_path):
    a = finished_run(tmp_path / "a", fitted=("train", "test"))
    assert check_members([a, finished_run(tmp_path / "b", fitted=("train", "test"))], 42, 0.1) == ["train", "test"]
    other_seed = finished_run(tmp_path / "c", seed=7, fitted=("train", "test"))
    with pytest.raises(DataError, match=r"--soup .*c: trained with --seed 7, not 42"):
        check_members([a, other_seed], 42, 0.1)
    train_only = finished_run(tmp_path / "d")
    with pytest.raises(DataError, match=r"--soup .*d: fitted on \['train'\]"):
        check_members([a, train_only], 42, 0.1)
    other_fraction = finished_run(tmp_path / "e", fitted=("train", "test"), val_fraction=0.2)
    with pytest.raises(DataError, match=r"--soup .*e: trained with --val-fraction 0.2, not 0.1"):
        check_members([a, other_fraction], 42, 0.1)
    unrecorded = finished_run(tmp_path / "f", fitted=("train", "test"), val_fraction=None)  # older run.json
    assert check_members([a, unrecorded], 42, 0.1) == ["train", "test"]
    validated_on_test = finished_run(tmp_path / "g", fitted=("train", "test"), val_split="test")
    with pytest.raises(DataError, match=r"--soup .*g: validated on test, not a train slice \(--val-split\)"):
        check_members([a, validated_on_test], 42, 0.1)
    whole = ("train", "train-holdout", "test")
    refits = [finished_run(tmp_path / name, fitted=whole, val_fraction=None, val_split="test") for name in "hi"]
    assert check_members(refits, 42, None, "test") == list(whole)


def test_members_must_be_finished_runs_and_at_least_two(tmp_path):
    a = finished_run(tmp_path / "a")
    with pytest.raises(DataError, match="needs at least 2 run folders, got 1"):
        check_members([a], 42, 0.1)
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(DataError, match=r"unfinished: not a finished run folder \(no model.keras\)"):
        check_members([a, tmp_path / "unfinished"], 42, 0.1)


def test_members_from_different_starts_are_mixed_with_a_warning(tmp_path, caplog):
    a = finished_run(tmp_path / "a", init_from="one.keras")
    b = finished_run(tmp_path / "b", init_from="two.keras")
    assert check_members([a, b], 42, 0.1) == ["train"]
    assert "started from different checkpoints" in caplog.text
