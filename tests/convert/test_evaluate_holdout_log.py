"""`python -m convert.evaluate --split train-holdout` logs what it reads: the held-out slice of the dataset's train
split, with the fraction and seed that cut it, not a `<data>/train-holdout` folder that does not exist. The shipped
model is evaluated on a small synthetic dataset (no training needed: only the log line is checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHIPPED_MODEL
from tests.convert.conftest import run_module
from tests.convert.synthetic import make_dataset

PER_CLASS = {"train": 10}  # 70 faces: a 10 % slice holds one per class


@pytest.mark.skipif(not SHIPPED_MODEL.with_suffix(".json").is_file(), reason=f"{SHIPPED_MODEL} + sidecar absent")
def test_train_holdout_log_names_the_slice_of_train(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", PER_CLASS)
    result = run_module("convert.evaluate", "--model", SHIPPED_MODEL, "--data", data, "--split", "train-holdout",
                        "--holdout-fraction", "0.1", "--holdout-seed", "42", "--out-dir", tmp_path / "figures")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not (data / "train-holdout").exists()
    assert f"{data}/train-holdout" not in result.stdout
    assert f"on the held-out slice of {data}/train (fraction 0.1, seed 42): 7 faces" in result.stdout
