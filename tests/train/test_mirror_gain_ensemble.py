"""scripts/mirror_gain.py --ensemble: the runs' probabilities averaged on the slice they all held out, one pass
each and with their mirror images, and (--best-subsets) the best subset of each size. The arithmetic is checked
on hand-made probabilities; the command on two real (untrained) run folders and a third with another seed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.conftest import REPO
from tests.synthetic import write_image_folders

SCRIPT = REPO / "scripts" / "mirror_gain.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mirror_gain_ensemble", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_hot(classes: list[int], weight: float = 0.6) -> np.ndarray:
    """Rows putting `weight` on the given class and the rest evenly on the other six."""
    rows = np.full((len(classes), 7), (1.0 - weight) / 6)
    rows[np.arange(len(classes)), classes] = weight
    return rows


def test_the_mean_of_the_passes_decides(script) -> None:
    labels = np.array([0, 1, 2, 3])
    right_on_first_half = one_hot([0, 1, 5, 5], 0.6)
    right_on_second_half = one_hot([6, 6, 2, 3], 0.5)
    assert script.ensemble_accuracy([right_on_first_half], labels) == 0.5
    # the more confident model wins where they disagree: its two right answers, and the other's where it is unsure
    unsure = np.full((4, 7), 1 / 7)
    assert script.ensemble_accuracy([right_on_first_half, unsure], labels) == 0.5
    assert script.ensemble_accuracy([right_on_first_half, right_on_second_half, one_hot([0, 1, 2, 3], 0.3)],
                                    labels) == 1.0


def test_the_report_names_the_best_subset(script, capsys) -> None:
    labels = np.array([0, 1, 2, 3])
    good, bad = one_hot([0, 1, 2, 3]), one_hot([4, 4, 4, 4], 0.9)
    script.report_ensembles({"a": (good, good), "b": (bad, bad), "c": (good, one_hot([0, 1, 2, 4]))}, labels, 2)
    out = capsys.readouterr().out
    # one pass each, a and c outvote b everywhere; with the mirror passes, c's wrong mirror and b tip the last face
    assert "ensemble of 3 runs: 1.0000 one pass each, 0.7500 mirror-averaged" in out
    assert "best 2 (picked on the slice, optimistic): 1.0000 mirror-averaged: a, c" in out
    assert "best 3" not in out


def write_run(folder: Path, seed: int) -> Path:
    from train.fit import save_model
    from train.model import build_model

    folder.mkdir()
    save_model(build_model(width=4, dense_units=8), folder / "model.keras")
    (folder / "run.json").write_text(json.dumps({"config": {"seed": seed}, "val_fraction": 0.1, "val_split": None,
                                                 "class_bias": [0.0] * 7, "fitted_splits": ["train"]}))
    return folder


def test_the_command_ensembles_runs_of_one_slice_and_refuses_another(script, tmp_path: Path, capsys) -> None:
    data = write_image_folders(tmp_path / "data", {"train": 10})
    one, two = write_run(tmp_path / "one", 42), write_run(tmp_path / "two", 42)
    cache = str(tmp_path / "cache")
    script.main(["--data", str(data), "--cache-dir", cache, "--ensemble", "--best-subsets", "2", str(one), str(two)])
    out = capsys.readouterr().out
    assert "ensemble of 2 runs: " in out and "best 2 (picked on the slice, optimistic): " in out
    other = write_run(tmp_path / "other", 7)
    with pytest.raises(SystemExit) as stopped:
        script.main(["--data", str(data), "--cache-dir", cache, "--ensemble", str(one), str(other)])
    assert stopped.value.code == 2 and "held out another slice" in capsys.readouterr().err


def test_a_run_named_twice_is_refused(script, tmp_path: Path, capsys) -> None:
    run = write_run(tmp_path / "run", 42)
    with pytest.raises(SystemExit) as stopped:
        script.main(["--data", str(tmp_path / "no-data"), "--ensemble", str(run), str(tmp_path / "." / "run")])
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "error: --ensemble: a run is named twice (it would count once)\n"
