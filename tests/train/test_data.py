import subprocess

import numpy as np
import pytest
from PIL import Image

from tests.synthetic import LABELS, face_like, write_csv, write_image_folders
from train.data import DataError, load_split, stratified_holdout, stratified_sample


def test_image_folders_map_case_insensitive_classes_to_canonical_order(tmp_path):
    write_image_folders(tmp_path, {"train": 3}, folder_case=str.upper)
    split = load_split(tmp_path, "train")
    assert split.x.shape == (21, 48, 48, 1) and split.x.dtype == np.uint8
    assert split.class_counts().tolist() == [3] * 7
    # the pixels of class k are class k's pattern: the stripe frequency grows with the label
    first_happy = split.x[split.y == LABELS.index("happy")][0, :, :, 0]
    rng = np.random.default_rng(0)
    assert abs(float(first_happy.mean()) - float(face_like(3, rng).mean())) < 20


def test_csv_splits_by_usage(tmp_path):
    csv_path = write_csv(tmp_path / "fer2013.csv", {"Training": 4, "PublicTest": 2, "PrivateTest": 1})
    assert len(load_split(csv_path, "train")) == 28
    assert len(load_split(tmp_path, "test")) == 14  # a folder holding fer2013.csv works too
    private = load_split(csv_path, "privatetest")
    assert private.class_counts().tolist() == [1] * 7


def test_csv_split_errors_list_the_split_names_not_the_usage_values(tmp_path):
    """--split takes train, test, privatetest; the Usage values they select are not split names."""
    csv_path = write_csv(tmp_path / "fer2013.csv", {"Training": 1})
    names = "train, test, privatetest = Usage Training, PublicTest, PrivateTest"
    with pytest.raises(DataError) as unknown:
        load_split(csv_path, "PublicTest")
    assert str(unknown.value) == f"{csv_path}: unknown split 'PublicTest' (a CSV dataset has the splits {names})"
    with pytest.raises(DataError) as empty:
        load_split(csv_path, "test")
    assert str(empty.value) == f"{csv_path}: no rows for split 'test' (Usage PublicTest; the splits are {names})"


def test_csv_and_folders_give_identical_arrays(tmp_path):
    write_image_folders(tmp_path / "img", {"train": 2}, seed=5)
    write_csv(tmp_path / "fer2013.csv", {"Training": 2}, seed=5)
    from_folders = load_split(tmp_path / "img", "train")
    from_csv = load_split(tmp_path / "fer2013.csv", "train")
    by_label_folders = np.argsort(from_folders.y, kind="stable")  # folders load alphabetically
    np.testing.assert_array_equal(from_folders.y[by_label_folders], from_csv.y)
    np.testing.assert_array_equal(from_folders.x[by_label_folders], from_csv.x)


def test_cache_is_used_and_invalidated_when_files_change(tmp_path):
    data = write_image_folders(tmp_path / "d", {"train": 2})
    cache = tmp_path / "cache"
    first = load_split(data, "train", cache)
    assert len(list(cache.glob("train-*.npz"))) == 1
    again = load_split(data, "train", cache)
    np.testing.assert_array_equal(first.x, again.x)
    Image.fromarray(face_like(0, np.random.default_rng(1))).save(data / "train" / "angry" / "extra.png")
    assert len(load_split(data, "train", cache)) == len(first) + 1
    assert len(list(cache.glob("train-*.npz"))) == 2


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "missing labels"])
def test_a_damaged_cache_entry_is_decoded_again_and_replaced(tmp_path, caplog, damage):
    """A cache truncated by a full disk or a killed run (train and evaluate share it) is a warning, not a
    traceback: the split is decoded again and the entry rewritten."""
    data = write_image_folders(tmp_path / "d", {"train": 2})
    cache = tmp_path / "cache"
    first = load_split(data, "train", cache)
    (entry,) = cache.glob("train-*.npz")
    if damage == "truncated":
        entry.write_bytes(entry.read_bytes()[:200])
    elif damage == "not a zip":
        entry.write_bytes(b"garbage")
    else:
        np.savez(entry.with_suffix(""), x=first.x)  # np.savez adds .npz: the same path, without y
    with caplog.at_level("WARNING"):
        again = load_split(data, "train", cache)
    assert "is damaged" in caplog.text and str(entry) in caplog.text
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y, again.y)
    cached = load_split(data, "train", cache)  # the rewritten entry is whole again
    np.testing.assert_array_equal(first.y, cached.y)


def test_missing_split_folder_is_named(tmp_path):
    write_image_folders(tmp_path, {"train": 1})
    with pytest.raises(DataError, match=r"test: split folder not found"):
        load_split(tmp_path, "test")
    (tmp_path / "test").write_text("")
    with pytest.raises(DataError, match=r"test: is a file, not a split folder \(<data>/<split>/<class>/\*\.png\)$"):
        load_split(tmp_path, "test")


def test_a_split_given_as_the_dataset_or_a_slice_asked_as_a_folder_says_what_to_pass(tmp_path):
    write_image_folders(tmp_path, {"train": 1, "test": 1})
    with pytest.raises(DataError, match=r"test/test: split folder not found; .*test holds class folders: pass the "
                                        r"dataset root, the folder that holds train/ and test/$"):
        load_split(tmp_path / "test", "test")
    with pytest.raises(DataError, match=r"train-holdout: split folder not found; train-holdout is a slice of train/ "
                                        r"that train and convert.evaluate make, not a folder$"):
        load_split(tmp_path, "train-holdout")


def test_missing_dataset_is_named(tmp_path):
    with pytest.raises(DataError, match="nowhere: dataset path not found"):
        load_split(tmp_path / "nowhere", "train")


def test_unknown_class_folder_is_named(tmp_path):
    write_image_folders(tmp_path, {"train": 1})
    (tmp_path / "train" / "contempt").mkdir()
    with pytest.raises(DataError, match="unknown class folder 'contempt'"):
        load_split(tmp_path, "train")


def test_corrupt_image_is_skipped_and_counted_or_fatal_when_strict(tmp_path):
    write_image_folders(tmp_path, {"train": 2})
    bad = tmp_path / "train" / "sad" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    split = load_split(tmp_path, "train")
    assert len(split) == 14
    assert len(split.report.skipped) == 1 and "broken.jpg" in split.report.skipped[0]
    with pytest.raises(DataError, match="broken.jpg: unreadable image"):
        load_split(tmp_path, "train", strict=True)


def test_a_strict_load_is_not_answered_by_a_lenient_loads_cache(tmp_path):
    write_image_folders(tmp_path / "data", {"train": 2})
    (tmp_path / "data" / "train" / "sad" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    assert len(load_split(tmp_path / "data", "train", tmp_path / "cache")) == 14  # cached without the bad file
    with pytest.raises(DataError, match="broken.jpg: unreadable image"):
        load_split(tmp_path / "data", "train", tmp_path / "cache", strict=True)


def test_other_sizes_are_resized_and_counted(tmp_path):
    write_image_folders(tmp_path, {"train": 1})
    Image.new("RGB", (96, 64), (200, 10, 10)).save(tmp_path / "train" / "fear" / "big.png")
    split = load_split(tmp_path, "train")
    assert split.report.resized == 1
    assert split.x.shape[1:] == (48, 48, 1)


def test_wrong_pixel_count_names_the_csv_line(tmp_path):
    path = write_csv(tmp_path / "fer2013.csv", {"Training": 1})
    lines = path.read_text().splitlines()
    lines[3] = "2," + " ".join(["0"] * 100) + ",Training"
    path.write_text("\n".join(lines) + "\n")
    split = load_split(path, "train")
    assert len(split) == 6 and "fer2013.csv:4: pixels has 100 values, expected 2304" in split.report.skipped[0]
    with pytest.raises(DataError, match=r"fer2013.csv:4: pixels has 100 values"):
        load_split(path, "train", strict=True)


def test_csv_missing_column_is_named(tmp_path):
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels\n0,1 2 3\n")
    with pytest.raises(DataError, match="missing column\\(s\\) Usage"):
        load_split(path, "train")


def test_holdout_is_stratified_and_disjoint(tmp_path):
    write_image_folders(tmp_path, {"train": 10})
    split = load_split(tmp_path, "train")
    keep, hold = stratified_holdout(split, 0.2, seed=1)
    assert hold.class_counts().tolist() == [2] * 7
    assert len(keep) + len(hold) == len(split)
    assert len(stratified_sample(split, 14, seed=0)) == 14


def test_cli_reports_bad_data_in_one_line(tmp_path, python, repo_root):
    result = subprocess.run(
        [python, "-m", "train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run")],
        cwd=repo_root, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing'}: dataset path not found"]


def test_held_out_means_not_among_the_fitted_splits_whatever_the_folder_case():
    from train.data import is_held_out

    assert is_held_out("test", ["train"]) and is_held_out("train-holdout", ["train", "test"])
    assert not is_held_out("Test", ["train", "test"]) and not is_held_out("train", ["TRAIN"])


def test_a_slice_of_a_fitted_split_is_fitted_except_trains_own_validation_slice():
    from train.data import is_held_out

    assert not is_held_out("test-holdout", ["train", "test"]) and is_held_out("test-holdout", ["train"])
    assert is_held_out("train-holdout", ["train"]) and not is_held_out("train-holdout", ["train", "train-holdout"])


def test_csv_that_is_not_utf8_text_is_one_data_error(tmp_path):
    """A binary file or a UTF-16 export named fer2013.csv is fatal, named, and not a UnicodeDecodeError."""
    path = tmp_path / "fer2013.csv"
    path.write_bytes("emotion,pixels,Usage\n0,1 2 3,Training\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"fer2013.csv: not a UTF-8 text CSV"):
        load_split(path, "train")


def test_csv_with_a_nul_filled_row_is_one_data_error_naming_the_line(tmp_path):
    """NUL bytes are valid UTF-8, so this reaches the CSV reader, which refuses the endless field."""
    path = write_csv(tmp_path / "fer2013.csv", {"Training": 1})
    with path.open("ab") as handle:
        handle.write(b"\0" * 200_000 + b"\n")
    with pytest.raises(DataError, match=r"fer2013.csv:9: malformed CSV \(field larger than field limit"):
        load_split(path, "train")


def test_the_faces_fingerprint_ignores_order_but_not_a_face_or_a_label(tmp_path):
    from train.data import Split, faces_fingerprint

    split = load_split(write_image_folders(tmp_path / "d", {"train": 3}), "train")
    order = np.random.default_rng(0).permutation(len(split))
    reordered = Split(split.name, split.x[order], split.y[order])
    assert faces_fingerprint(reordered) == faces_fingerprint(split)
    relabelled = Split(split.name, split.x, np.roll(split.y, 1))
    changed = split.x.copy()
    changed[0, 0, 0] ^= 1
    assert faces_fingerprint(relabelled) != faces_fingerprint(split)
    assert faces_fingerprint(Split(split.name, changed, split.y)) != faces_fingerprint(split)


def test_a_csv_saved_with_a_byte_order_mark_loads(tmp_path):
    """Excel's "CSV UTF-8" starts the file with a byte-order mark, which would glue itself to the first column."""
    csv_path = write_csv(tmp_path / "fer2013.csv", {"Training": 2})
    csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())
    assert load_split(csv_path, "train").class_counts().tolist() == [2] * 7


def test_macro_f1_averages_the_classes_that_occur():
    from train.metrics import classification_report

    truth = np.array([0, 2, 3, 4, 5, 6])  # no disgust (1) in this split, and none predicted
    report = classification_report(truth, truth, LABELS)
    assert report["accuracy"] == 1.0 and report["macro_f1"] == 1.0
    wrong = classification_report(truth, np.array([1, 2, 3, 4, 5, 6]), LABELS)  # a predicted disgust counts
    assert wrong["macro_f1"] == pytest.approx((0 + 0 + 5 * 1.0) / 7)


def test_split_folders_match_in_any_case(tmp_path):
    write_image_folders(tmp_path, {"train": 2})
    (tmp_path / "train").rename(tmp_path / "Train")
    assert len(load_split(tmp_path, "train")) == 14


def test_hidden_folders_are_ignored_and_a_class_without_faces_is_named(tmp_path, caplog):
    import logging
    import shutil

    write_image_folders(tmp_path, {"train": 2})
    (tmp_path / "train" / ".ipynb_checkpoints").mkdir()
    shutil.rmtree(tmp_path / "train" / "disgust")
    with caplog.at_level(logging.WARNING, logger="train.data"):
        split = load_split(tmp_path, "train")
    assert split.class_counts().tolist() == [2, 0, 2, 2, 2, 2, 2]
    assert any("no faces of disgust" in r.getMessage() for r in caplog.records)


def test_csv_rows_of_an_unknown_usage_are_counted_and_named(tmp_path, caplog):
    """A typo in Usage puts a row in no split: it used to vanish without a word (the summary counted only
    unreadable rows). Every load names the values and their counts; a strict load refuses them."""
    csv_path = write_csv(tmp_path / "fer2013.csv", {"Training": 2, "Trainig": 1, "": 1, "PublicTest": 1})
    expected = (f"{csv_path}: 14 row(s) with an unknown Usage value, in no split: 'Trainig' (7), '' (7) (known: "
                "Training, PublicTest, PrivateTest)")
    with caplog.at_level("WARNING", logger="train.data"):
        split = load_split(csv_path, "train")
    assert len(split) == 14 and expected in caplog.text
    assert split.report.summary().endswith(", 14 CSV row(s) of unknown Usage in no split")
    with pytest.raises(DataError) as strict:
        load_split(csv_path, "test", strict=True)
    assert str(strict.value) == expected
