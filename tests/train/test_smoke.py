"""One short epoch on a tiny synthetic set must leave every report a trainer reads."""

import csv
import json
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from tests.synthetic import LABELS, write_image_folders

REPORT_FILES = ("model.keras", "last.keras", "state.json", "history.csv", "curves.png", "confusion.png",
                "metrics.json", "run.json", "model_card.md")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from tests.conftest import REPO
    import sys

    root = tmp_path_factory.mktemp("smoke")
    write_image_folders(root / "data", {"train": 12, "test": 4})
    out = root / "run"
    cmd = [sys.executable, "-m", "train", "--data", str(root / "data"), "--out", str(out), "--epochs", "2",
           "--width", "4", "--dense-units", "16", "--batch-size", "16", "--cache-dir", str(root / "cache")]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # stderr is for one-line errors: TensorFlow's start-up chatter (oneDNN, the CUDA probe) is logged instead
    assert result.stderr == "", result.stderr[-3000:]
    return out, result.stdout, cmd


def test_the_log_names_the_device_that_trains(smoke_run):
    _, stdout, _ = smoke_run
    assert "INFO train.environment: TensorFlow 2." in stdout and " on the CPU (no GPU found)" in stdout


def test_every_report_file_is_written(smoke_run):
    out, _, _ = smoke_run
    missing = [name for name in REPORT_FILES if not (out / name).is_file()]
    assert not missing


def test_history_metrics_and_run_json_are_consistent(smoke_run):
    out, stdout, _ = smoke_run
    with (out / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    assert test["n"] == 28 and set(test["per_class"]) == set(LABELS)
    assert sum(map(sum, test["confusion"])) == 28
    run = json.loads((out / "run.json").read_text())
    assert run["labels"] == list(LABELS) and run["input_shape"] == [48, 48, 1]
    assert run["macs"] > 0 and run["params"] > 0
    assert 0.0 <= run["untuned_validation_accuracy"] <= 1.0
    assert run["val_fraction"] == 0.1 and run["val_split"] is None
    assert run["limit"] is None  # every training face (a --limit smoke run would record its N)
    assert run["config"]["early_width"] == run["config"]["width"] == 4  # named even when not narrowed, as a tail would
    assert json.loads((out / "start.json").read_text())["val_fingerprint"] == run["val_fingerprint"]
    assert "per-class results on test" in stdout and "macro-F1" in stdout
    assert "epoch 2/2" in stdout and "ETA" in stdout
    assert "MACs per face" in stdout


def test_resume_continues_from_last_epoch(smoke_run):
    from tests.conftest import REPO

    out, _, cmd = smoke_run
    earlier = json.loads((out / "state.json").read_text())["seconds"]  # the first process's 2 epochs
    assert earlier > 0
    cmd = [c if c != "2" else "3" for c in cmd] + ["--resume"]
    other = write_image_folders(out.parent / "other-data", {"train": 12, "test": 4}, seed=1)
    refused = subprocess.run([c if c != str(out.parent / "data") else str(other) for c in cmd], cwd=REPO,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and refused.stderr.startswith(f"error: --data {other}: its validation faces")
    assert str(out / "start.json") in refused.stderr and "Traceback" not in refused.stderr
    history = out / "history.csv"
    rows_before = history.read_text()
    history.write_text(rows_before + rows_before.splitlines()[-1].replace("1,", "2,", 1) + "\n")  # an epoch cut
    started = time.monotonic()  # short between its history row and its resume state
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    resumed_s = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming after epoch 2" in result.stdout
    assert "epoch 3/3" in result.stdout and "epoch 1/3" not in result.stdout
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 2 and state["seconds"] > earlier
    with history.open() as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == [0, 1, 2]  # epoch 2 once, as trained again
    record = json.loads((out / "run.json").read_text())
    assert earlier < record["seconds"] <= earlier + resumed_s  # the whole run's time, not only the resumed process's
    first, resumed = (shlex.join(["python", *command[1:]]) for command in (smoke_run[2], cmd))
    assert record["command"] == f"{first}; resumed by: {resumed}"  # the command that started it is kept


def warm_start_command(cmd: list[str], source: Path, out: Path, *extra: str) -> list[str]:
    """The smoke run's command as a tail from its last checkpoint into `out`, without the architecture flags
    (--width 4 --dense-units 16: the architecture comes from the checkpoint), plus `extra`."""
    cmd = list(cmd)
    cmd[cmd.index("--out") + 1] = str(out)
    width = cmd.index("--width")
    del cmd[width:width + 4]
    return cmd + ["--init-from", str(source / "last.keras"), *extra]


def test_init_from_starts_a_new_schedule_from_the_checkpoint_weights(smoke_run, tmp_path):
    import keras
    import numpy as np

    from tests.conftest import REPO

    source, _, cmd = smoke_run
    out = tmp_path / "warm"
    cmd = warm_start_command(cmd, source, out, "--lr", "1e-9", "--no-tune-bias")
    cmd[cmd.index("--epochs") + 1] = "1"
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "warm start from" in result.stdout and "epoch 1/1" in result.stdout
    record = json.loads((out / "run.json").read_text())
    assert record["init_from"] == str(source / "last.keras")
    assert (record["config"]["width"], record["config"]["dense_units"]) == (4, 16)  # the checkpoint's, not the defaults
    before = keras.models.load_model(source / "last.keras")
    after = keras.models.load_model(out / "model.keras")
    assert after.count_params() == before.count_params()
    kernels = [(a.numpy(), b.numpy()) for a, b in zip(before.trainable_weights, after.trainable_weights)
               if "kernel" in a.path]
    assert kernels and all(np.allclose(a, b, atol=1e-4) for a, b in kernels)


def test_the_architecture_is_read_from_the_archive_and_a_conflicting_flag_is_refused(smoke_run, tmp_path):
    from tests.conftest import REPO
    from train.config import checkpoint_architecture

    source, _, cmd = smoke_run
    assert checkpoint_architecture(source / "last.keras") == {"width": 4, "early_width": 4, "dense_units": 16,
                                                             "dropout": 0.4, "pooling": "average",
                                                             "last_block_convs": 2, "symmetry": "none"}
    cmd = list(cmd)
    cmd[cmd.index("--out") + 1] = str(tmp_path / "other")
    cmd += ["--init-from", str(source / "last.keras")]
    cmd[cmd.index("--width") + 1] = "8"  # --dense-units 16 agrees with the checkpoint; --width 8 does not
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --width 8: the --init-from checkpoint {source / 'last.keras'} has width 4 (the architecture comes "
        "from the checkpoint; drop the flag)"]
    assert not (tmp_path / "other").exists()


def test_weight_averaging_run_reports_and_keeps_a_valid_model(smoke_run, tmp_path):
    import keras

    from tests.conftest import REPO

    _, _, cmd = smoke_run
    cmd = list(cmd)
    cmd[cmd.index("--out") + 1] = str(tmp_path / "swa")
    cmd[cmd.index("--epochs") + 1] = "3"
    cmd += ["--schedule", "constant", "--average-last", "2", "--lr", "0.01", "--mixup", "0.2"]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "weight average of 2 epochs: val_accuracy" in result.stdout
    last_epoch = result.stdout.split("epoch 3/3")[1].splitlines()[0]
    assert "lr 0.01 ETA" in last_epoch  # constant after warm-up, not decayed to zero
    model = keras.models.load_model(tmp_path / "swa" / "model.keras")
    assert model.count_params() > 0
    config = json.loads((tmp_path / "swa" / "run.json").read_text())["config"]
    assert config["schedule"] == "constant" and config["average_last"] == 2 and config["mixup"] == 0.2


def test_a_sharpness_aware_tail_trains_averages_and_records_its_radius(smoke_run, tmp_path):
    import keras
    import numpy as np

    from tests.conftest import REPO

    source, _, cmd = smoke_run
    out = tmp_path / "sam"
    cmd = warm_start_command(cmd, source, out, "--schedule", "constant", "--warmup-epochs", "0", "--lr", "0.01",
                             "--average-last", "2", "--sam", "0.05")
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "sharpness-aware steps: each update uses the gradient at the weights moved 0.05 up" in result.stdout
    assert "weight average of 2 epochs: val_accuracy" in result.stdout
    assert json.loads((out / "run.json").read_text())["config"]["sam_rho"] == 0.05
    before = keras.models.load_model(source / "last.keras")
    after = keras.models.load_model(out / "last.keras")
    moved = [float(np.abs(a.numpy() - b.numpy()).max()) for a, b in zip(before.trainable_weights,
                                                                           after.trainable_weights)]
    assert all(np.isfinite(moved)) and max(moved) > 1e-4


def test_distillation_run_learns_from_the_teachers_soft_targets(smoke_run, tmp_path):
    import numpy as np

    from tests.conftest import REPO

    teacher, _, cmd = smoke_run
    out = tmp_path / "student"
    cmd = list(cmd)
    cmd[cmd.index("--out") + 1] = str(out)
    cmd[cmd.index("--epochs") + 1] = "1"
    cmd += ["--distill-from", str(teacher), "--distill-weight", "0.7", "--distill-temperature", "3",
            "--extra-train-split", "test"]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "soft targets for 105 faces (mirror-averaged, temperature 3)" in result.stdout
    assert "test: fitted: not held out" in result.stdout
    with np.load(out / "teacher_targets.npz") as saved:
        probabilities = saved["probabilities"]
    assert probabilities.shape == (105, 7)  # 84 train less 7 held out, plus 28 test
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-9)
    run = json.loads((out / "run.json").read_text())
    assert run["distill_from"] == str(teacher) and run["fitted_splits"] == ["train", "test"]
    assert run["config"]["distill_weight"] == 0.7 and run["config"]["distill_temperature"] == 3.0
    assert "| test (fitted: not held out) | 28 |" in (out / "model_card.md").read_text()
    cmd[cmd.index("--epochs") + 1] = "2"
    resumed = subprocess.run(cmd + ["--resume"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "teacher targets reused" in resumed.stdout and "soft targets for" not in resumed.stdout
    plain = cmd[:cmd.index("--distill-from")] + ["--reports-only"]  # lineage comes from run.json
    redone = subprocess.run(plain, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert redone.returncode == 0, redone.stdout[-3000:] + redone.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    assert run["distill_from"] == str(teacher) and run["fitted_splits"] == ["train", "test"]


def test_reports_only_retunes_offsets_from_the_untuned_model_and_keeps_the_run_record(smoke_run):
    import keras
    import numpy as np

    from tests.conftest import REPO

    out, _, cmd = smoke_run
    before_run = json.loads((out / "run.json").read_text())
    before_bias = keras.models.load_model(out / "model.keras").get_layer("logits").get_weights()[1]
    cmd = list(cmd) + ["--reports-only"]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "epoch " not in result.stdout  # no training
    after_run = json.loads((out / "run.json").read_text())
    after_bias = keras.models.load_model(out / "model.keras").get_layer("logits").get_weights()[1]
    untuned = before_bias - np.asarray(before_run["class_bias"])
    np.testing.assert_allclose(after_bias, untuned + np.asarray(after_run["class_bias"]), atol=1e-5)
    assert after_run["config"] == before_run["config"] and after_run["seconds"] == before_run["seconds"]
    assert after_run["command"].startswith(before_run["command"]) and "reports redone by" in after_run["command"]


def test_reports_only_without_tuning_ships_the_model_its_run_json_describes(smoke_run):
    """--no-tune-bias records class_bias zeros, so model.keras must lose the offsets too (not only the model in
    memory). Known offsets are folded in first, so the check cannot pass by the tuned offsets being zero."""
    import keras
    import numpy as np

    from tests.conftest import REPO

    out, _, cmd = smoke_run
    run = json.loads((out / "run.json").read_text())
    model = keras.models.load_model(out / "model.keras")
    logits = model.get_layer("logits")
    kernel, bias = logits.get_weights()
    untuned = bias - np.asarray(run["class_bias"])
    offsets = np.linspace(-0.6, 0.6, len(LABELS))
    logits.set_weights([kernel, (untuned + offsets).astype(bias.dtype)])
    model.save(out / "model.keras")
    (out / "run.json").write_text(json.dumps({**run, "class_bias": offsets.tolist()}))

    result = subprocess.run(list(cmd) + ["--reports-only", "--no-tune-bias"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    after_run = json.loads((out / "run.json").read_text())
    after_bias = keras.models.load_model(out / "model.keras").get_layer("logits").get_weights()[1]
    assert after_run["class_bias"] == [0.0] * len(LABELS)
    # without offsets the figure before them is the validation figure itself (rounded to 4 places)
    validation = json.loads((out / "metrics.json").read_text())["validation"]["accuracy"]
    assert abs(after_run["untuned_validation_accuracy"] - validation) < 1e-4
    np.testing.assert_allclose(after_bias, untuned, atol=1e-5)
    assert "took the previous class offsets" in result.stdout and "class logit offsets tuned" not in result.stdout


@pytest.mark.parametrize("extra, expected", [
    (["--init-from", "{tmp}/nope.keras"], "error: --init-from {tmp}/nope.keras: no such checkpoint file"),
    (["--mixup", "-0.5"], "error: --mixup -0.5: must be 0 (off) or positive"),
    (["--average-last", "5"], "error: --average-last 5: must be between 0 and --epochs (2)"),
    (["--reports-only"], "error: --reports-only: {tmp}/run/model.keras not found (is the run finished?)"),
    (["--distill-from", "{tmp}"], "error: --distill-from {tmp}: not a finished run folder (no model.keras)"),
    (["--distill-weight", "1.5"], "error: --distill-weight 1.5: must be in (0, 1]"),
    (["--distill-temperature", "3"], "error: --distill-temperature 3.0: only with --distill-from RUN (the teacher"),
    (["--distill-weight", "0.3"], "error: --distill-weight 0.3: only with --distill-from RUN (the teacher"),
    (["--soup", "{tmp}", "--distill-weight", "0.3"],
     "error: --distill-weight 0.3: --soup trains nothing, so it has no effect; drop it"),
    (["--val-split", "test", "--extra-train-split", "test"],
     "error: validation split test: also fitted (train + train-holdout + test), so class offsets tuned on it would be "
     "fitted too: pass --offsets-from RUN or --no-tune-bias"),
    (["--offsets-from", "{tmp}"], "error: --offsets-from {tmp}/run.json: not readable (No such file or directory)"),
    (["--offsets-from", "{tmp}", "--no-tune-bias"],
     "error: --offsets-from: cannot be combined with --no-tune-bias (which keeps zero offsets)"),
    (["--init-from", "{tmp}/junk.keras"],
     "error: --init-from {tmp}/junk.keras: not a Keras model archive (corrupt or truncated .keras file)"),
], ids=["missing-init-from", "negative-mixup", "average-last-beyond-epochs", "reports-only-unfinished",
        "distill-from-not-a-run", "distill-weight-above-one",
        "distill-temperature-without-a-teacher", "distill-weight-without-a-teacher", "distill-weight-with-soup",
        "offsets-tuned-on-a-fitted-split",
        "offsets-from-not-a-run", "offsets-from-and-no-tune-bias", "init-from-not-a-model"])
def test_bad_arguments_are_one_line_and_exit_2(smoke_run, tmp_path, extra, expected):
    from tests.conftest import REPO

    _, _, cmd = smoke_run
    (tmp_path / "junk.keras").write_bytes(b"not a zip archive")
    cmd = list(cmd) + [arg.format(tmp=tmp_path) for arg in extra]
    cmd[cmd.index("--out") + 1] = str(tmp_path / "run")
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected.format(tmp=tmp_path)), result.stderr[-2000:]


def test_soup_mixes_two_warm_runs_into_their_mean_and_reports_it(smoke_run, tmp_path):
    """Two averaging tails from one checkpoint at different rates, then --soup: the soup's kernels are the mean
    of the members' (offsets taken out; batch norm and the logits bias are recomputed or re-tuned)."""
    import keras
    import numpy as np

    from tests.conftest import REPO

    source, _, cmd = smoke_run
    members = []
    for name, lr in (("slow", "0.01"), ("fast", "0.05")):
        member = list(cmd) + ["--init-from", str(source / "last.keras"), "--schedule", "constant", "--lr", lr,
                              "--average-last", "2", "--extra-train-split", "test"]
        member[member.index("--out") + 1] = str(tmp_path / name)
        result = subprocess.run(member, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        members.append(tmp_path / name)
    soup = list(cmd) + ["--soup", *map(str, members)]
    soup[soup.index("--out") + 1] = str(tmp_path / "soup")
    result = subprocess.run(soup, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "soup of 2 runs" in result.stdout and "epoch 1/" not in result.stdout
    run = json.loads((tmp_path / "soup" / "run.json").read_text())
    assert run["soup_of"] == [str(m) for m in members] and run["fitted_splits"] == ["train", "test"]
    assert "Soup (uniform weight mean) of:" in (tmp_path / "soup" / "model_card.md").read_text()
    assert (tmp_path / "soup" / "curves.png").stat().st_size > 0  # the members' tails, drawn from their histories
    kernels = [[w.numpy() for w in keras.models.load_model(folder / "model.keras").weights if "kernel" in w.path]
               for folder in (*members, tmp_path / "soup")]
    assert len(kernels[2]) > 2
    for first, second, mixed in zip(*kernels):
        np.testing.assert_allclose(mixed, (first + second) / 2, atol=1e-5)
    assert not np.allclose(kernels[0][0], kernels[1][0])  # the members really differ

    twice = soup[:soup.index("--soup")] + ["--soup", str(members[0]), str(members[0])]
    twice[twice.index("--out") + 1] = str(tmp_path / "twice")
    result = subprocess.run(twice, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: --soup: the same run folder is named twice"]
    onto_member = list(soup)
    onto_member[onto_member.index("--out") + 1] = str(members[0])
    result = subprocess.run(onto_member, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --out {members[0]}: is one of the --soup runs (the soup would overwrite it)"]

    mismatched = soup + ["--extra-train-split", "none-such"]
    mismatched[mismatched.index("--out") + 1] = str(tmp_path / "bad")
    result = subprocess.run(mismatched, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --extra-train-split none-such: the --soup runs were fitted on ['train', 'test']"]


def test_reports_only_refuses_another_validation_slice_and_keeps_the_run(smoke_run):
    """Re-reporting with another --seed would re-tune on faces the run trained on: refused, nothing rewritten."""
    from tests.conftest import REPO

    out, _, cmd = smoke_run
    before = (out / "run.json").read_text()
    result = subprocess.run(list(cmd) + ["--reports-only", "--seed", "7"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --seed 7: {out} was trained with --seed 42 (its validation slice); pass the same value"]
    assert (out / "run.json").read_text() == before


def test_refit_on_every_face_keeps_the_average_and_takes_the_offsets_of_a_tuned_run(smoke_run, tmp_path):
    """A refit validated on a split it also fits: the weight average is the model whatever that split says,
    the offsets come from --offsets-from, every figure is marked fitted, and --reports-only adopts all that."""
    from tests.conftest import REPO

    source, _, cmd = smoke_run
    tuned = json.loads((source / "run.json").read_text())["class_bias"]
    refit = list(cmd) + ["--init-from", str(source / "last.keras"), "--schedule", "constant", "--lr", "0.01",
                         "--average-last", "2", "--val-split", "test", "--extra-train-split", "test"]
    refit[refit.index("--out") + 1] = str(tmp_path / "refit")
    result = subprocess.run(refit + ["--offsets-from", str(source)], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "weight average of 2 epochs" in result.stdout and "(validation is fitted): kept" in result.stdout
    assert f"class logit offsets from {source}" in result.stdout
    run = json.loads((tmp_path / "refit" / "run.json").read_text())
    assert run["fitted_splits"] == ["train", "train-holdout", "test"] and run["val_split"] == "test"
    assert run["class_bias"] == pytest.approx(tuned, abs=1e-3) and run["class_bias_from"] == str(source)
    card = (tmp_path / "refit" / "model_card.md").read_text()
    assert "| validation (fitted: not held out) |" in card and "| test (fitted: not held out) |" in card
    assert f"taken from {source}" in card

    redo = list(refit) + ["--reports-only"]  # neither --val-split nor --offsets-from: both adopted from run.json
    del redo[redo.index("--val-split"):redo.index("--val-split") + 2]
    result = subprocess.run(redo, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"class logit offsets from {source}" in result.stdout and "tuned on" not in result.stdout
    after = json.loads((tmp_path / "refit" / "run.json").read_text())
    assert after["val_split"] == "test" and after["class_bias"] == run["class_bias"]
    assert after["fitted_splits"] == run["fitted_splits"]
