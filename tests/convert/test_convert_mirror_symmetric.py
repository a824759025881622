"""--symmetry mirror end to end: trained, carried into a tail by its checkpoint, converted to the plain int8 net,
whose answers for a face and its mirror image are the same integers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge.classifier import EmotionClassifier
from tests.convert.conftest import CALIB_SIZE, TINY_TRAIN_FLAGS, Converted, assert_one_line_error, run_module
from tests.convert.direct import raw_outputs, read_folder_split
from tests.convert.test_convert import assert_int8_end_to_end
from tests.train.test_model import vgg_macs


def test_a_mirror_symmetric_lineage_converts_to_a_plain_int8_net_that_answers_mirror_images_alike(
        converted: Converted, tmp_path: Path) -> None:
    """The planned lineage in small: a stage, two averaging tails from its checkpoint (no architecture flag: the
    checkpoint carries the symmetry), their soup, then the converter."""
    stage, soup, out = tmp_path / "stage", tmp_path / "soup", tmp_path / "symmetric.tflite"
    flags = [*TINY_TRAIN_FLAGS, "--symmetry", "mirror"]
    flags[flags.index("--epochs") + 1] = "2"
    trained = run_module("train", "--data", converted.data, "--out", stage, "--cache-dir", tmp_path / "cache", *flags)
    assert trained.returncode == 0, trained.stderr[-2000:]
    tails = [tmp_path / "slow", tmp_path / "fast"]
    for tail, lr in zip(tails, ("0.01", "0.05")):
        tailed = run_module("train", "--data", converted.data, "--out", tail, "--cache-dir", tmp_path / "cache",
                            "--init-from", stage / "last.keras", "--epochs", "2", "--warmup-epochs", "0",
                            "--schedule", "constant", "--lr", lr, "--average-last", "2", "--eval-split", "none")
        assert tailed.returncode == 0, tailed.stderr[-2000:]
        assert json.loads((tail / "run.json").read_text())["config"]["symmetry"] == "mirror"
    souped = run_module("train", "--data", converted.data, "--out", soup, "--cache-dir", tmp_path / "cache",
                        "--soup", *tails, "--eval-split", "none")
    assert souped.returncode == 0, souped.stderr[-2000:]
    record = json.loads((soup / "run.json").read_text())
    assert record["config"]["symmetry"] == "mirror"
    # run.json gives the shipped (plain) net's size, and the free weights apart
    assert record["macs"] == vgg_macs(4, dense=16) and record["free_params"] < 0.55 * record["params"]
    doubled = run_module("convert", "--run", soup, "--out", tmp_path / "twice.tflite", "--mirror-average")
    assert "--mirror-average: " in assert_one_line_error(doubled, f"{soup} was trained with --symmetry mirror")
    result = run_module("convert", "--run", soup, "--out", out, "--calib-size", CALIB_SIZE, "--max-drop", "50",
                        "--cache-dir", tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-2000:]
    ops = assert_int8_end_to_end(out)
    assert "REVERSE_V2" not in ops and "RESHAPE" not in ops  # the plain net: no mirror pass, no pairing op
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["macs"] == vgg_macs(4, dense=16)
    assert sidecar["mirror_symmetric"] is True and sidecar["mirror_average"] is False  # the edge skips its mirror pass
    assert not EmotionClassifier(out, mirror_average=True).mirror_average

    labels = json.loads(converted.sidecar.read_text())["labels"]
    faces, _ = read_folder_split(converted.data / "test", labels)
    mirrored = faces[:, :, ::-1]
    assert np.abs(faces.astype(int) - mirrored).max() > 50
    direct, of_mirror = raw_outputs(out, faces), raw_outputs(out, mirrored)
    np.testing.assert_array_equal(direct, of_mirror)
    assert len(np.unique(direct, axis=0)) > 1  # ... and not because it answers every face alike
    plain = raw_outputs(converted.model, faces) != raw_outputs(converted.model, mirrored)
    assert plain.any()  # the plain tiny net does not: the equality above is the symmetry's, not the data's
    assert json.loads(converted.sidecar.read_text())["mirror_symmetric"] is False


def test_an_init_from_a_plain_checkpoint_refuses_the_symmetry_flag(converted: Converted, tmp_path: Path) -> None:
    result = run_module("train", "--data", converted.data, "--out", tmp_path / "t", "--init-from",
                        converted.run / "last.keras", "--symmetry", "mirror", "--epochs", "1")
    error = assert_one_line_error(result, "--symmetry mirror")
    assert "has symmetry none" in error


def test_the_symmetry_refuses_an_odd_width_and_learned_pooling_before_training(converted: Converted,
                                                                               tmp_path: Path) -> None:
    odd = run_module("train", "--data", converted.data, "--out", tmp_path / "o", "--symmetry", "mirror",
                     "--width", "5")
    assert "--width 5: --symmetry mirror needs an even number" in assert_one_line_error(odd, "--width 5")
    learned = run_module("train", "--data", converted.data, "--out", tmp_path / "l", "--symmetry", "mirror",
                         "--pooling", "learned")
    assert_one_line_error(learned, "--pooling learned: --symmetry mirror is built with average pooling only")
