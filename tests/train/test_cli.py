"""`python -m train` refuses bad command lines in one line `error: ...` on stderr with exit code 2, before
TensorFlow loads and before any training (no model is built in these tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.synthetic import write_csv, write_image_folders

TRAIN_PER_CLASS = 3  # 21 faces, 14 left for training once the validation slice (one per class) is held out
SUBPROCESS_TIMEOUT = 120


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folders(tmp_path_factory.mktemp("cli") / "data", {"train": TRAIN_PER_CLASS})


def run_train(*args: str | Path, data: Path, out: Path, cache: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "train", "--data", str(data), "--out", str(out), "--eval-split", "none",
           "--cache-dir", str(cache or out.parent / "cache"), *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)


BATCH_15_ERROR = ("error: --batch-size 15: larger than the 14 training faces left after the validation slice "
                  "(--val-fraction 0.1; a smaller one leaves more) (every batch must be full)")


def assert_one_line(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [expected]
    assert "epoch " not in result.stdout  # nothing was trained


@pytest.mark.parametrize("extra, expected", [
    (["--limit", "-5"], "error: --limit -5: must be 0 (all images) or positive"),
    (["--val-fraction", "1.5"], "error: --val-fraction 1.5: must be between 0 and 1 (exclusive)"),
    (["--patience", "-1"], "error: --patience -1: must be 0 or positive"),
    (["--warmup-epochs", "-2"], "error: --warmup-epochs -2: must be 0 or positive"),
    (["--weight-decay", "-0.001"], "error: --weight-decay -0.001: must be 0 or positive"),
    (["--class-weight-power", "-0.5"], "error: --class-weight-power -0.5: must be 0 or positive"),
    (["--label-smoothing", "1.5"], "error: --label-smoothing 1.5: must be in [0, 1]"),
    (["--batch-size", "15"], BATCH_15_ERROR),
    (["--batch-size", "8", "--limit", "7"],
     "error: --batch-size 8: larger than the 7 training faces left after --limit 7 and the validation slice "
     "(--val-fraction 0.1) (every batch must be full)"),
    (["--lr", "nan"], "error: --lr nan: must be a finite number"),
    (["--weight-decay", "inf"], "error: --weight-decay inf: must be a finite number"),
    (["--extra-train-split", "train"], "error: --extra-train-split train: already fitted (name another split, e.g. test)"),
    (["--early-width", "0"], "error: --early-width 0: must be positive"),
    (["--early-width", "64", "--width", "4"], "error: --early-width 64: narrows blocks 1-2, so at most --width (4)"),
    (["--sam", "-0.05"], "error: --sam -0.05: must be 0 (off) or positive"),
    (["--sam", "inf"], "error: --sam inf: must be a finite number"),
], ids=["negative-limit", "val-fraction-above-one", "negative-patience", "negative-warmup", "negative-weight-decay",
        "negative-class-weight-power", "label-smoothing-above-one", "batch-beyond-train", "batch-beyond-limit",
        "nan-lr", "infinite-weight-decay", "extra-split-train", "zero-early-width", "early-width-above-width",
        "negative-sam", "infinite-sam"])
def test_out_of_range_values_name_their_flag(dataset: Path, tmp_path: Path, extra: list[str], expected: str) -> None:
    assert_one_line(run_train(*extra, data=dataset, out=tmp_path / "run"), expected)


def test_batch_size_bound_is_exact_and_ignored_without_training() -> None:
    import argparse

    import numpy as np

    from train.__main__ import check_training_set
    from train.data import DataError, Split

    train = Split("train", np.zeros((14, 48, 48, 1), np.uint8), np.arange(14) % 7)
    flags = {"val_split": "test", "val_fraction": 0.1, "limit": 0}
    check_training_set(argparse.Namespace(batch_size=14, reports_only=False, soup=None, **flags), train)  # one batch
    # --reports-only and --soup fit nothing
    check_training_set(argparse.Namespace(batch_size=15, reports_only=True, soup=None, **flags), train)
    check_training_set(argparse.Namespace(batch_size=15, reports_only=False, soup=[Path("a"), Path("b")], **flags),
                       train)
    with pytest.raises(DataError, match=r"--batch-size 15: larger than the 14 training faces \(every batch"):
        check_training_set(argparse.Namespace(batch_size=15, reports_only=False, soup=None, **flags), train)


@pytest.mark.parametrize("extra, message", [
    (["--epochs", "many"], "argument --epochs: invalid int value: 'many'"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["--seed", "-1"], "argument --seed: -1: must be 0 or positive"),
    (["--out", ""], "argument --out: empty path"),  # `--out "$OUT"` with OUT unset: not the working folder
], ids=["bad-type", "unknown-flag", "negative-seed", "empty-out"])
def test_bad_flags_are_one_line(dataset: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    assert_one_line(run_train(*extra, data=dataset, out=tmp_path / "run"),
                    f"error: command line: {message} (see python -m train --help)")


def test_reports_only_with_resume_is_one_line(dataset: Path, tmp_path: Path) -> None:
    assert_one_line(run_train("--reports-only", "--resume", data=dataset, out=tmp_path / "run"),
                    "error: --resume: --reports-only trains nothing, it redoes a finished run's reports; drop --resume")


def test_missing_required_flag_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "train", "--out", str(tmp_path / "run")], cwd=REPO,
                            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert_one_line(result, "error: command line: the following arguments are required: --data "
                            "(see python -m train --help)")


def test_undecodable_csv_is_one_line(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "fer2013.csv", {"Training": 1})
    data.write_bytes(data.read_bytes().replace(b"Training", b"Tr\xe9ning", 1))  # latin-1, not UTF-8
    result = run_train(data=data, out=tmp_path / "run")
    assert_one_line(result, f"error: {data}: not a UTF-8 text CSV (invalid continuation byte; expected "
                            "fer2013.csv's columns emotion, pixels, Usage)")


def test_a_failed_start_leaves_no_empty_folders_and_keeps_existing_ones(dataset: Path, tmp_path: Path) -> None:
    """A run that fails before writing anything (here: a batch larger than the training set, found after the
    faces are read) removes the folders it created for --out, and only those."""
    nested = tmp_path / "typo" / "deeper" / "run"
    assert_one_line(run_train("--batch-size", "15", data=dataset, out=nested, cache=tmp_path / "cache"),
                    BATCH_15_ERROR)
    assert not (tmp_path / "typo").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    assert_one_line(run_train("--batch-size", "15", data=dataset, out=kept / "run"),
                    BATCH_15_ERROR)
    assert kept.is_dir() and not (kept / "run").exists()


def test_damaged_resume_files_are_one_line(dataset: Path, tmp_path: Path) -> None:
    """--resume reads state.json and last.keras: damage in either is named before TensorFlow loads."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "state.json").write_text('{"epoch": ')
    result = run_train("--resume", data=dataset, out=run)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line, = result.stderr.strip().splitlines()
    assert line.startswith(f"error: --resume: {run / 'state.json'} is damaged")
    (run / "state.json").write_text('{"epoch": 1.7, "best_val_accuracy": "0.1"}')  # JSON, wrong types
    result = run_train("--resume", data=dataset, out=run)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "is damaged" in result.stderr and "whole number of epochs" in result.stderr
    (run / "state.json").write_text('{"epoch": 3, "best_val_accuracy": 0.5}')
    (run / "last.keras").write_bytes(b"truncated")
    assert_one_line(run_train("--resume", data=dataset, out=run), f"error: --resume {run / 'last.keras'}: not a Keras "
                                                                  "model archive (corrupt or truncated .keras file)")


def test_an_out_path_that_is_a_file_names_it(dataset: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert_one_line(run_train(data=dataset, out=blocker),
                    f"error: --out {blocker}: cannot create the run folder ({blocker} is a file, not a folder)")
    assert_one_line(run_train(data=dataset, out=blocker / "run"),
                    f"error: --out {blocker / 'run'}: cannot create the run folder ({blocker} is a file, not a folder)")


def test_a_cache_that_cannot_be_written_is_a_warning(tmp_path: Path, caplog) -> None:
    import logging

    import numpy as np

    from train.data import Split, read_cache, write_cache

    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    split = Split("train", np.zeros((2, 48, 48, 1), np.uint8), np.array([0, 1]))
    with caplog.at_level(logging.WARNING, logger="train.data"):
        write_cache(blocker / "train-x.npz", split)
    assert "cannot write" in caplog.text and blocker.read_text().startswith("a file")
    write_cache(tmp_path / "ok" / "train-x.npz", split)
    assert read_cache(tmp_path / "ok" / "train-x.npz") is not None


@pytest.mark.parametrize("capabilities, cpu_bf16, expected", [
    ([], True, True), ([], False, False),  # no GPU: the CPU decides
    ([(8, 6)], False, True),  # an RTX 30xx with an old CPU: bf16 on the GPU
    ([(7, 5)], True, False),  # a T4 / RTX 20xx with a bf16 CPU: no bf16 (it would be emulated on the GPU)
    ([(8, 0), (6, 1)], True, False),  # every GPU must run it
], ids=["cpu-bf16", "cpu-plain", "ampere", "turing", "mixed-gpus"])
def test_auto_mixed_precision_follows_the_training_device(monkeypatch, capabilities, cpu_bf16, expected) -> None:
    import tensorflow as tf

    import train.__main__ as cli

    gpus = [f"GPU:{index}" for index in range(len(capabilities))]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda gpu: {"compute_capability": capabilities[gpus.index(gpu)]})
    monkeypatch.setattr(cli, "cpu_supports_bf16", lambda: cpu_bf16)
    assert cli.auto_mixed_precision() is expected


def test_a_csv_row_of_an_unknown_usage_is_one_line_with_strict(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "fer2013.csv", {"Training": TRAIN_PER_CLASS, "Trainig": 1})
    assert_one_line(run_train("--strict", data=data, out=tmp_path / "run"),
                    f"error: {data}: 7 row(s) with an unknown Usage value, in no split: 'Trainig' (7) (known: "
                    "Training, PublicTest, PrivateTest)")
    assert not (tmp_path / "run").exists()
