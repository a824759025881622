"""A stopped command (Ctrl-C, SIGTERM, a kill -9) ends in one line without a traceback, and what the line advises
works: a training run's folder can always be resumed, whatever the point it was stopped at.

Most stops are sent by tests.train.interrupting at an exact point of a real run (a real signal to the process,
as a terminal's Ctrl-C is), so the tests do not race a timer; SIGTERM is also sent from outside, as `kill` does."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.synthetic import write_image_folders

TIMEOUT = 300
TINY_RUN = ("--width", "4", "--dense-units", "16", "--batch-size", "16", "--mixed-precision", "off")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folders(tmp_path_factory.mktemp("interrupts") / "data", {"train": 12, "test": 4})


def train_args(data: Path, out: Path, *extra: str, epochs: int = 2) -> list[str]:
    return ["--data", str(data), "--out", str(out), "--epochs", str(epochs), *TINY_RUN,
            "--cache-dir", str(data.parent / "cache"), *extra]


def train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=TIMEOUT)


def stopped_at(signal_name: str, point: str, command: str, *args: str) -> subprocess.CompletedProcess:
    """`command` (train or convert) with `args`, sent `signal_name` at `point` (see tests.train.interrupting)."""
    return subprocess.run([sys.executable, "-m", "tests.train.interrupting", signal_name, point, command, *args],
                          cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)


def stop_line(result: subprocess.CompletedProcess, exit_code: int, cause: str = "interrupted") -> str:
    """The one line a stopped run ends with (a warning on stdout), checked to be the only word of the stop."""
    output = result.stdout + result.stderr
    assert result.returncode == exit_code, output[-3000:]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-3000:]
    lines = [line for line in result.stdout.splitlines() if f"train.__main__: {cause}" in line]
    assert len(lines) == 1, output[-3000:]
    return lines[0].split("train.__main__: ", 1)[1]


@pytest.mark.parametrize("signal_name, exit_code", [("SIGINT", 130), ("SIGKILL", -signal.SIGKILL)],
                         ids=["ctrl-c", "kill-9"])
def test_a_stop_during_the_first_epochs_checkpoint_saves_leaves_a_run_that_resumes(data, tmp_path, signal_name,
                                                                                   exit_code):
    """Stopped as the second checkpoint of epoch 1 starts to save. A Ctrl-C waits for the saves to finish; a
    kill -9 cannot be waited for: the resume state is saved before model.keras, which the resume then saves
    from last.keras. (model.keras first, then a stop, left a folder neither --resume nor a fresh run took.)"""
    out = tmp_path / "run"
    result = stopped_at(signal_name, "call:train.fit:save_model:2", "train", *train_args(data, out))
    if signal_name == "SIGINT":
        assert stop_line(result, exit_code) == (f"interrupted: {out} keeps every finished epoch; to go on, run the "
                                                "same command with --resume")
    else:
        assert result.returncode == exit_code, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads((out / "state.json").read_text())["epoch"] == 0

    resumed = train(*train_args(data, out, "--resume"))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resuming after epoch 1" in resumed.stdout and "epoch 2/2" in resumed.stdout
    assert ("model.keras saved from last.keras: epoch 1 was the best" in resumed.stdout) == (signal_name == "SIGKILL")
    assert (out / "run.json").is_file()


def test_resume_starts_afresh_a_first_epoch_an_older_version_cut_short(tmp_path, caplog):
    """An older version saved model.keras before the resume state: a stop in between left start.json, model.keras
    and at most the first epoch's history row, nothing to resume. --resume (which the stop line advised) starts
    it afresh; a folder whose history shows later epochs is a run whose resume state is gone, still refused."""
    from train.__main__ import parse_args
    from train.data import DataError
    from train.runfolder import check_fresh_folder

    out = tmp_path / "run"
    out.mkdir()
    (out / "start.json").write_text("{}")
    (out / "model.keras").write_bytes(b"epoch 1's model")
    (out / "history.csv").write_text("epoch,accuracy\n0,0.3\n")
    args = parse_args(["--data", str(tmp_path), "--out", str(out), "--resume"])
    with caplog.at_level("INFO", logger="train.runfolder"):
        check_fresh_folder(args)
    assert f"--resume: {out} holds only a first epoch stopped before its resume state was saved" in caplog.text
    (out / "history.csv").write_text("epoch,accuracy\n0,0.3\n1,0.4\n")
    with pytest.raises(DataError, match="holds model.keras but no state.json and last.keras to continue from"):
        check_fresh_folder(args)


def test_ctrl_c_while_tensorflow_loads_is_one_line_and_removes_the_empty_folder_it_made(data, tmp_path):
    out = tmp_path / "new" / "run"
    result = stopped_at("SIGINT", "import:tensorflow:2", "train", *train_args(data, out))  # 1: the install check
    assert "train 77, validation 7 (train-holdout), evaluation 28" in result.stdout  # the data was loaded
    assert stop_line(result, 130) == "interrupted: nothing was written"
    assert not (tmp_path / "new").exists()


def test_ctrl_c_at_the_tensorflow_install_check_writes_nothing(data, tmp_path):
    out = tmp_path / "new" / "run"
    result = stopped_at("SIGINT", "import:tensorflow:1", "train", *train_args(data, out))
    assert stop_line(result, 130) == "interrupted: nothing was written"
    assert not (tmp_path / "new").exists()


def test_ctrl_c_during_the_reports_says_how_to_write_them_and_resume_does(data, tmp_path):
    out = tmp_path / "run"
    result = stopped_at("SIGINT", "call:train.reports:tune_class_bias:1", "train", *train_args(data, out))
    assert "accuracy before class offsets" in result.stdout
    assert stop_line(result, 130) == (f"interrupted: {out} finished training, not its reports; to write them, run "
                                      "the same command with --resume")
    assert not (out / "run.json").exists()

    resumed = train(*train_args(data, out, "--resume"))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "epoch 1/2" not in resumed.stdout and "epoch 2/2" not in resumed.stdout  # nothing trained again
    assert json.loads((out / "run.json").read_text())["class_bias"]


def test_sigterm_during_training_is_one_line_like_ctrl_c_and_the_run_resumes(data, tmp_path):
    """`kill PID` (a scheduler ending a job) used to end the run at once, exit 143 and not a word."""
    import keras

    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "train", *train_args(data, out, epochs=50)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        for line in process.stdout:
            seen.append(line)
            if "epoch 1/50" in line:
                process.send_signal(signal.SIGTERM)
                break
        rest, _ = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    result = subprocess.CompletedProcess(process.args, process.returncode, "".join(seen) + rest, "")
    assert stop_line(result, 143, "stopped by SIGTERM") == (f"stopped by SIGTERM: {out} keeps every finished "
                                                            "epoch; to go on, run the same command with --resume")
    finished = json.loads((out / "state.json").read_text())["epoch"]
    assert keras.models.load_model(out / "last.keras").count_params() > 0  # the checkpoints are whole

    resumed = train(*train_args(data, out, "--resume", epochs=finished + 2))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"resuming after epoch {finished + 1}" in resumed.stdout


@pytest.mark.parametrize("signal_name, exit_code, cause", [("SIGINT", 130, "interrupted"),
                                                           ("SIGTERM", 143, "stopped by SIGTERM")])
def test_a_stopped_conversion_is_one_line(tmp_path, signal_name, exit_code, cause):
    result = stopped_at(signal_name, "call:convert.__main__:convert_run:1", "convert", "--run", str(tmp_path),
                        "--out", str(tmp_path / "model.tflite"))
    assert result.returncode == exit_code, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"{cause}: the command did not finish; run it again"]
