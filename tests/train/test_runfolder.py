"""A run folder's records: a fresh run never overwrites a run, --resume keeps the run's lineage flags, a
resumed finished run starts from its untuned model, and a run record that is not an object is one line."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.synthetic import write_image_folders
from train.__main__ import parse_args, train_config
from train.data import DataError
from train.runfolder import check_fresh_folder, resuming, settle_lineage_flags, write_start_record


def train_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def command(data, out, *flags) -> list[str]:
    return ["--data", str(data), "--out", str(out), *map(str, flags)]


@pytest.fixture(scope="module")
def checkpoint_of_width_8(tmp_path_factory):
    from train.model import build_model

    path = tmp_path_factory.mktemp("checkpoint") / "last.keras"
    build_model(8, 16, 0.0).save(path)
    return path


@pytest.fixture
def started(tmp_path, checkpoint_of_width_8):
    """A run folder as `python -m train ... --seed 7 --extra-train-split test --width 8 --init-from A` leaves it
    after its first epoch; the checkpoint A it started from is gone since."""
    data = write_image_folders(tmp_path / "data", {"train": 4, "test": 2})
    out = tmp_path / "run"
    out.mkdir()
    args = parse_args(command(data, out, "--seed", "7", "--extra-train-split", "test", "--width", "8",
                              "--init-from", tmp_path / "gone" / "last.keras"))
    settle_lineage_flags(args)
    args.fitted = ["train", "test", "privatetest"]  # as the parent's run.json said
    write_start_record(args, train_config(args))
    (out / "state.json").write_text(json.dumps({"epoch": 0, "best_val_accuracy": 0.5}))
    shutil.copy(checkpoint_of_width_8, out / "last.keras")
    return data, out


def test_a_fresh_run_into_a_folder_holding_a_run_is_refused_and_the_run_kept(started):
    data, out = started
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    line = one_line_error(train_cli(*command(data, out, "--epochs", "1")))
    assert line == (f"error: --out {out}: already holds a run (state.json); pass --resume to continue it, or "
                    "name a new folder")
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_resume_with_another_seed_is_refused(started):
    data, out = started
    line = one_line_error(train_cli(*command(data, out, "--resume", "--seed", "42")))
    assert line.startswith(f"error: --seed 42: {out} was started with --seed 7; a resume must keep it")


def test_resume_with_another_extra_split_is_refused(started):
    data, out = started
    line = one_line_error(train_cli(*command(data, out, "--resume", "--extra-train-split", "privatetest")))
    assert line.startswith(f"error: --extra-train-split privatetest: {out} was started with --extra-train-split test")


def test_resume_adopts_the_lineage_left_out_and_the_architecture_of_its_checkpoint(started):
    """Even --seed, whose default differs, and --init-from, whose file is gone (the weights come from
    last.keras): the resume passes every check before data loads and keeps the parent's fitted splits."""
    from train.__main__ import check_args

    data, out = started
    args = parse_args(command(data, out, "--resume"))
    recorded = settle_lineage_flags(args)
    check_args(args)
    assert (args.seed, args.extra_train_split, args.width, args.val_fraction) == (7, "test", 8, 0.1)
    assert args.init_from == out.parent / "gone" / "last.keras"
    assert recorded["fitted_splits"] == ["train", "test", "privatetest"]
    refused = parse_args(command(data, out, "--resume", "--width", "16"))
    with pytest.raises(DataError, match=r"--width 16: the --resume checkpoint .*last.keras has width 8"):
        settle_lineage_flags(refused)


def test_resume_of_a_distilled_run_keeps_its_teacher_settings(started, tmp_path):
    """--distill-weight and --distill-temperature left out are the run's own, not the defaults (its teacher targets
    are cached for those); given with another value they are refused."""
    data, out = started
    teacher = tmp_path / "teacher"
    args = parse_args(command(data, out, "--seed", "7", "--extra-train-split", "test", "--width", "8",
                              "--distill-from", teacher, "--distill-weight", "0.3", "--distill-temperature", "4"))
    settle_lineage_flags(args)
    write_start_record(args, train_config(args))
    resumed = parse_args(command(data, out, "--resume"))
    settle_lineage_flags(resumed)
    assert (resumed.distill_from, resumed.distill_weight, resumed.distill_temperature) == (teacher, 0.3, 4.0)
    with pytest.raises(DataError, match=r"^--distill-weight 0.5: .* was started with --distill-weight 0.3"):
        settle_lineage_flags(parse_args(command(data, out, "--resume", "--distill-weight", "0.5")))
    for nothing_trained in (["--reports-only"], ["--soup", tmp_path / "a", tmp_path / "b"]):
        again = parse_args(command(data, out, "--resume", *nothing_trained))
        settle_lineage_flags(again)  # not taken (then refused as given): nothing is trained with them
        assert (again.distill_weight, again.distill_temperature) == (None, None)


def test_resume_of_a_run_without_a_teacher_takes_no_distill_settings(started):
    data, out = started
    assert json.loads((out / "start.json").read_text())["distill_weight"] is None
    resumed = parse_args(command(data, out, "--resume"))
    settle_lineage_flags(resumed)
    assert (resumed.distill_from, resumed.distill_weight, resumed.distill_temperature) == (None, None, None)


def test_a_start_that_is_not_a_resume_ignores_a_stale_start_record(started):
    """A first attempt that died before its first checkpoint leaves start.json alone: the next start (with or
    without --resume: there is nothing to resume) is a fresh one with its own flags."""
    data, out = started
    for name in ("state.json", "last.keras"):
        (out / name).unlink()
    for flags in ([], ["--resume"]):
        args = parse_args(command(data, out, *flags))
        assert settle_lineage_flags(args) == {}
        assert (args.seed, args.extra_train_split, args.init_from) == (42, None, None)


def test_resume_takes_the_same_init_from_however_spelt(started):
    data, out = started
    spelt = out.parent / "gone" / ".." / "gone" / "last.keras"
    args = parse_args(command(data, out, "--resume", "--init-from", spelt))
    settle_lineage_flags(args)
    assert args.init_from.resolve() == out.parent / "gone" / "last.keras"


def test_a_resume_needs_both_its_resume_state_and_its_last_checkpoint(started):
    data, out = started
    args = parse_args(command(data, out, "--resume"))
    assert resuming(args)
    (out / "last.keras").unlink()
    assert not resuming(args)


def test_a_fresh_run_into_a_folder_holding_only_a_model_is_refused(tmp_path):
    """A soup's folder, or a run whose resume state was deleted: its model.keras is not written over."""
    data = write_image_folders(tmp_path / "data", {"train": 4})
    soup = tmp_path / "soup"
    soup.mkdir()
    (soup / "model.keras").write_bytes(b"a soup's model")
    with pytest.raises(DataError, match=r"already holds a run \(model.keras\)"):
        check_fresh_folder(parse_args(command(data, soup)))


def test_a_failed_start_removes_only_the_empty_folders_it_made(tmp_path):
    from train.runfolder import make_run_folder, remove_if_left_empty

    kept = tmp_path / "runs"  # the user's, empty
    kept.mkdir()
    out = kept / "typo" / "run"
    created = make_run_folder(out)
    assert created == kept / "typo" and out.is_dir()
    remove_if_left_empty(out, created)
    assert not created.exists() and kept.is_dir()


def test_resume_over_a_soup_is_refused(tmp_path):
    data = write_image_folders(tmp_path / "data", {"train": 4})
    soup = tmp_path / "soup"
    soup.mkdir()
    (soup / "model.keras").write_bytes(b"a soup's model")
    (soup / "run.json").write_text("{}")
    line = one_line_error(train_cli(*command(data, soup, "--resume")))
    assert line == (f"error: --resume: {soup} holds model.keras but no state.json and last.keras to continue from "
                    "(a soup, or a run whose resume state is gone); name a new folder")
    assert (soup / "model.keras").read_bytes() == b"a soup's model"


def test_a_run_record_that_is_not_an_object_is_one_line(tmp_path):
    data = write_image_folders(tmp_path / "data", {"train": 4})
    other = tmp_path / "other"
    other.mkdir()
    (other / "run.json").write_text("[1, 2]")
    line = one_line_error(train_cli("--data", data, "--out", tmp_path / "run", "--offsets-from", other))
    assert line == f"error: --offsets-from {other / 'run.json'}: not a run record (a JSON object with a config object)"


def test_a_resumed_finished_run_takes_its_folded_offsets_back_out_once(tmp_path):
    """--resume of a finished run: model.keras carries the offsets run.json records; they come back out
    (once, even when an interruption repeats the step) so the new report tunes from the untuned model."""
    from train.model import LOGITS_LAYER, build_model
    from train.reports import REOPENED_RECORD, fold_class_bias, reopen_finished_run

    model = build_model(4, 8, 0.0)
    untuned_bias = model.get_layer(LOGITS_LAYER).get_weights()[1].copy()
    offsets = np.linspace(-0.5, 0.7, len(untuned_bias))
    fold_class_bias(model, offsets)
    model.save(tmp_path / "model.keras")
    (tmp_path / "run.json").write_text(json.dumps({"config": {}, "class_bias": offsets.tolist()}))

    def bias_on_disk():
        import keras
        return keras.models.load_model(tmp_path / "model.keras").get_layer(LOGITS_LAYER).get_weights()[1]

    reopen_finished_run(tmp_path)
    np.testing.assert_allclose(bias_on_disk(), untuned_bias, atol=1e-6)
    assert not (tmp_path / "run.json").exists() and not (tmp_path / REOPENED_RECORD).exists()
    assert json.loads((tmp_path / "run.reopened.json").read_text())["class_bias"] == offsets.tolist()
    reopen_finished_run(tmp_path)  # nothing left to take out
    np.testing.assert_allclose(bias_on_disk(), untuned_bias, atol=1e-6)
    # interrupted after the model was saved, before the record was removed: not taken out twice
    (tmp_path / REOPENED_RECORD).write_text(json.dumps({"class_bias": offsets.tolist(), "model_sha256": "0" * 64}))
    reopen_finished_run(tmp_path)
    np.testing.assert_allclose(bias_on_disk(), untuned_bias, atol=1e-6)


def test_an_interrupted_save_leaves_the_previous_checkpoint_whole(tmp_path, checkpoint_of_width_8, monkeypatch):
    """A kill or a full disk during model.save used to truncate last.keras in place: --resume could not read it."""
    import keras

    from train.fit import save_model

    target = tmp_path / "last.keras"
    shutil.copy(checkpoint_of_width_8, target)
    before = target.read_bytes()
    model = keras.models.load_model(target)

    def full_disk(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(before[:100])  # part of an archive, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    with pytest.raises(OSError):
        save_model(model, target)
    assert target.read_bytes() == before and [path.name for path in tmp_path.iterdir()] == ["last.keras"]
    monkeypatch.undo()
    save_model(model, target)
    assert keras.models.load_model(target).count_params() == model.count_params()
    assert [path.name for path in tmp_path.iterdir()] == ["last.keras"]


def test_validation_faces_must_match_every_record(tmp_path):
    from train.runfolder import check_validation_faces

    args = parse_args(command(tmp_path / "data.csv", tmp_path / "run"))
    check_validation_faces(args, "abc", [(tmp_path / "run" / "start.json", "abc")])
    with pytest.raises(DataError, match=r"--data .*data.csv: its validation faces \(fingerprint abd\) are not those "
                                         r".*member/run.json records \(abc\)"):
        check_validation_faces(args, "abd", [(tmp_path / "run" / "start.json", "abd"),
                                             (tmp_path / "member" / "run.json", "abc")])


def test_reports_only_adopts_the_finished_runs_slice_flags_left_out(tmp_path):
    """A run trained with --seed 7 --val-fraction 0.2: --reports-only without them uses its values, not 42 / 0.1."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"config": {"seed": 7}, "val_fraction": 0.2, "command": "x",
                                              "seconds": 1.0}))
    args = parse_args(["--data", str(tmp_path), "--out", str(run), "--reports-only"])
    settle_lineage_flags(args)
    assert (args.seed, args.val_fraction) == (7, 0.2)
    given = parse_args(["--data", str(tmp_path), "--out", str(run), "--reports-only", "--seed", "9"])
    settle_lineage_flags(given)
    assert given.seed == 9  # given: kept, and refused later as another slice (train.__main__.adopt_run_record)


def test_reports_only_adopts_the_finished_runs_limit_and_refuses_another(tmp_path):
    """run.json's `limit` (a smoke run's sample) stays the run's: before, a re-report recorded `null` (every face)."""
    from train.cli import check_slice_flags

    run = tmp_path / "run"
    run.mkdir()
    record = {"config": {"seed": 42}, "val_fraction": 0.1, "limit": 400, "command": "x", "seconds": 1.0}
    (run / "run.json").write_text(json.dumps(record))
    args = parse_args(["--data", str(tmp_path), "--out", str(run), "--reports-only"])
    settle_lineage_flags(args)
    check_slice_flags(args, record)
    assert args.limit == 400
    other = parse_args(["--data", str(tmp_path), "--out", str(run), "--reports-only", "--limit", "0"])
    settle_lineage_flags(other)
    with pytest.raises(DataError, match=f"^--limit 0: {run} was trained on --limit 400 faces; pass the same value"):
        check_slice_flags(other, record)


@pytest.mark.parametrize("flags, record, message", [
    (["--soup", "{tmp}/c", "{tmp}/b"], {"soup_of": ["{tmp}/a", "{tmp}/b"]},
     "--soup {tmp}/c {tmp}/b: {tmp}/run was made with --soup {tmp}/a {tmp}/b (its run.json)"),
    (["--soup", "{tmp}/a", "{tmp}/b"], {"soup_of": None}, "--soup {tmp}/a {tmp}/b: {tmp}/run was made without --soup"),
    (["--init-from", "{tmp}/other.keras"], {"init_from": "{tmp}/last.keras"},
     "--init-from {tmp}/other.keras: {tmp}/run was made with --init-from {tmp}/last.keras"),
    (["--distill-from", "{tmp}/teacher"], {"distill_from": None},
     "--distill-from {tmp}/teacher: {tmp}/run was made without --distill-from"),
    (["--extra-train-split", "test"], {"fitted_splits": ["train"]},
     "--extra-train-split test: {tmp}/run was fitted on train (its run.json)"),
], ids=["another-soup", "soup-of-a-trained-run", "another-init-from", "a-teacher-it-never-had", "unfitted-split"])
def test_reports_only_refuses_a_lineage_its_run_json_does_not_record(tmp_path, flags, record, message):
    """The reports describe the run: a lineage flag naming something else would be written into run.json, the model
    card and any sidecar converted from it (a re-report with --soup of unrelated runs used to relabel a trained run)."""
    from train.cli import adopt_lineage

    fill = lambda text: text.replace("{tmp}", str(tmp_path))  # noqa: E731
    record = {key: [fill(v) for v in value] if isinstance(value, list) else value and fill(value)
              for key, value in record.items()}
    args = parse_args(["--data", str(tmp_path), "--out", str(tmp_path / "run"), "--reports-only",
                       *map(fill, flags)])
    with pytest.raises(DataError) as refused:
        adopt_lineage(args, record)
    assert str(refused.value).startswith(fill(message)) and "leave the flag out" in str(refused.value)


def test_reports_only_takes_the_recorded_lineage_however_it_is_spelt(tmp_path, monkeypatch):
    from train.cli import adopt_lineage

    monkeypatch.chdir(tmp_path)
    record = {"soup_of": [str(tmp_path / "a"), str(tmp_path / "b")], "fitted_splits": ["train", "test"]}
    args = parse_args(["--data", "d", "--out", "run", "--reports-only", "--soup", "a", "./b", "--extra-train-split",
                       "Test"])
    adopt_lineage(args, record)  # relative paths naming the same runs, the split's case: the same lineage
    left_out = parse_args(["--data", "d", "--out", "run", "--reports-only"])
    adopt_lineage(left_out, record)
    assert left_out.soup == [tmp_path / "a", tmp_path / "b"] and left_out.extra_train_split == "test"
    # a run.json from before these keys were recorded: the flags are what records its lineage (MODEL_CARD's
    # vgg32t redo: the same flags plus --reports-only, to record fitted_splits)
    older = parse_args(["--data", "d", "--out", "run", "--reports-only", "--init-from", "w/last.keras",
                        "--extra-train-split", "test"])
    adopt_lineage(older, {"config": {}})
    assert (older.init_from, older.extra_train_split) == (Path("w/last.keras"), "test")


def test_the_advice_for_a_damaged_resume_state_leads_to_a_fresh_start(started, tmp_path):
    """`state.json is damaged` used to advise removing it, after which --resume and a fresh start were both
    refused (the checkpoints still held the folder). The advice names every file to remove; with those gone, a
    start with or without --resume passes every check on the folder (and stops at a batch size larger than the
    training set, found once the faces are read: nothing trains)."""
    import re

    data, out = started
    (out / "state.json").write_text('{"epoch": ')
    shutil.copy(out / "last.keras", out / "model.keras")
    (out / "history.csv").write_text("epoch,accuracy\n0,0.3\n1,0.4\n")
    cache = ("--cache-dir", tmp_path / "cache")
    line = one_line_error(train_cli(*command(data, out, "--resume", *cache)))
    advice = re.fullmatch(rf"error: --resume: {re.escape(str(out / 'state.json'))} is damaged \(.*\): the run cannot "
                          rf"be resumed; to start afresh, name a new --out folder, or remove (.+) from "
                          rf"{re.escape(str(out))}", line)
    assert advice, line
    assert advice.group(1) == "state.json, last.keras and model.keras"
    for name in re.split(r", | and ", advice.group(1)):
        (out / name).unlink()
    for flags in ([], ["--resume"]):
        assert one_line_error(train_cli(*command(data, out, *flags, "--batch-size", 99, *cache))) == (
            "error: --batch-size 99: larger than the 21 training faces left after the validation slice "
            "(--val-fraction 0.1; a smaller one leaves more) (every batch must be full)")
