"""fitted_splits follows a run's parents: what its --init-from run and --distill-from teacher were fitted on,
and the train slice when a parent held out another one."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pytest

from train.data import extra_split_of, is_held_out
from train.lineage import own_splits, run_fitted_splits


def args_for(**values) -> argparse.Namespace:
    defaults = {"val_split": None, "extra_train_split": None, "init_from": None, "distill_from": None,
                "seed": 42, "val_fraction": 0.1}
    return argparse.Namespace(**{**defaults, **values})


def parent_run(folder: Path, fitted: list[str] | None, seed: int = 42, val_fraction: float | None = 0.1) -> Path:
    """A run folder with a checkpoint and run.json; None for a record of an older run that did not say."""
    folder.mkdir()
    (folder / "last.keras").write_bytes(b"")
    record = {"config": {"seed": seed}, "val_fraction": val_fraction, "fitted_splits": fitted}
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def test_own_splits_of_a_plain_run_an_extra_split_and_a_refit():
    assert own_splits(args_for()) == ["train"]
    assert own_splits(args_for(extra_train_split="test")) == ["train", "test"]
    refit = own_splits(args_for(val_split="test", extra_train_split="test"))
    assert refit == ["train", "train-holdout", "test"] and not is_held_out("train-holdout", refit)
    assert extra_split_of(refit) == "test" and extra_split_of(["train"]) is None


def test_a_warm_start_inherits_the_splits_its_checkpoint_was_fitted_on(tmp_path):
    parent = parent_run(tmp_path / "parent", ["train", "test"])
    fitted = run_fitted_splits(args_for(init_from=parent / "last.keras"))
    assert fitted == ["train", "test"] and not is_held_out("test", fitted) and is_held_out("train-holdout", fitted)


def test_a_parent_with_another_slice_has_fitted_this_runs_slice(tmp_path):
    other_seed = parent_run(tmp_path / "seed7", ["train"], seed=7)
    assert not is_held_out("train-holdout", run_fitted_splits(args_for(init_from=other_seed / "last.keras")))
    other_fraction = parent_run(tmp_path / "frac", ["train"], val_fraction=0.2)
    assert not is_held_out("train-holdout", run_fitted_splits(args_for(distill_from=other_fraction)))
    same = parent_run(tmp_path / "same", ["train"])
    assert is_held_out("train-holdout", run_fitted_splits(args_for(init_from=same / "last.keras")))


def test_an_older_parent_record_counts_as_the_default_slice_fitted_on_train(tmp_path):
    """A run.json from before val_fraction and fitted_splits were recorded: its seed decides, and it was fitted on
    train, so one with another seed has fitted this run's slice."""
    unrecorded = parent_run(tmp_path / "old42", None, val_fraction=None)
    assert is_held_out("train-holdout", run_fitted_splits(args_for(init_from=unrecorded)))
    other_seed = parent_run(tmp_path / "old7", None, seed=7, val_fraction=None)
    assert not is_held_out("train-holdout", run_fitted_splits(args_for(init_from=other_seed)))


def test_a_teacher_and_a_recorded_list_count_too(tmp_path):
    teacher = parent_run(tmp_path / "teacher", ["train", "test"])
    assert run_fitted_splits(args_for(distill_from=teacher)) == ["train", "test"]
    assert run_fitted_splits(args_for(), recorded=["train", "privatetest"]) == ["train", "privatetest"]


def test_a_checkpoint_without_run_json_is_of_unknown_lineage(tmp_path, caplog):
    checkpoint = tmp_path / "elsewhere.keras"
    checkpoint.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="train.lineage"):
        assert run_fitted_splits(args_for(init_from=checkpoint)) == ["train"]
    assert "faces it was fitted on are unknown" in caplog.text


KEPT_BRANCH_POINTS = [  # models/checkpoints/<name>: (width, the splits it fitted)
    ("vgg36e", 36, ["train", "test"]),
    ("vgg32s", 32, ["train"]),
    ("vgg32sw", 32, ["train"]),  # vgg32s's stage 2 (session 24)
    ("vgg32sw2", 32, ["train"]),  # vgg32sw's own restart, stage 2b (session 26)
]


@pytest.mark.parametrize(("name", "width", "fitted_by_it"), KEPT_BRANCH_POINTS)
def test_a_kept_branch_point_is_a_sound_checkpoint_of_known_lineage(name, width, fitted_by_it):
    """models/checkpoints/<name> is what tails start from (--init-from): an intact archive whose run.json says
    what it fitted (never the seed-42 slice), so a tail adding test/ keeps its slice figures held out."""
    from train.config import keras_archive_problem

    checkpoint = Path(__file__).resolve().parents[2] / "models" / "checkpoints" / name / "last.keras"
    assert keras_archive_problem(checkpoint) is None
    record = json.loads((checkpoint.parent / "run.json").read_text())
    assert record["config"]["width"] == width and record["config"]["seed"] == 42
    assert record["fitted_splits"] == fitted_by_it
    fitted = run_fitted_splits(args_for(init_from=checkpoint, extra_train_split="test"))
    assert fitted == ["train", "test"] and is_held_out("train-holdout", fitted)
    assert "train-holdout" in run_fitted_splits(args_for(init_from=checkpoint, seed=7))  # another seed, another slice
