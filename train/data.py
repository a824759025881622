"""FER-2013 loading from the two formats users have: the Kaggle image folders and the original CSV.

Decoded arrays are cached as .npz keyed by the source's file list, sizes and mtimes, so a second
run starts in seconds. Bad data is reported naming the file (or CSV line); it is skipped and
counted, or fatal with strict=True.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import logging
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from train.labels import EMOTIONS, IMAGE_SIZE

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
CSV_NAME = "fer2013.csv"
CSV_SPLIT_USAGE = {"train": "Training", "test": "PublicTest", "privatetest": "PrivateTest"}  # --split -> Usage
CSV_USAGE_TO_SPLIT = {usage.lower(): split for split, usage in CSV_SPLIT_USAGE.items()}
CACHE_FORMAT_VERSION = "1"
DEFAULT_CACHE_DIR = Path(".cache/fer")  # decoded-array cache shared by python -m train and python -m convert
CSV_ENCODING = "utf-8-sig"  # also reads a CSV that Excel saved with a byte-order mark


class DataError(Exception):
    """Bad or missing data; the message names the file (and line) and the problem."""


@dataclass
class LoadReport:
    """What loading skipped or changed, so a trainer sees it instead of silently losing data."""

    skipped: list[str] = field(default_factory=list)
    resized: int = 0
    unknown_usage: int = 0  # CSV rows whose Usage names no split (they are in none)

    def summary(self) -> str:
        unknown = f", {self.unknown_usage} CSV row(s) of unknown Usage in no split" if self.unknown_usage else ""
        return f"skipped {len(self.skipped)} unreadable, resized {self.resized} of other sizes{unknown}"


@dataclass
class Split:
    """One split as arrays: x uint8 (N, 48, 48, 1) raw pixels, y int64 (N,) in EMOTIONS order."""

    name: str
    x: np.ndarray
    y: np.ndarray
    report: LoadReport = field(default_factory=LoadReport)

    def __len__(self) -> int:
        return len(self.y)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=len(EMOTIONS))


def _fail_or_skip(message: str, report: LoadReport, strict: bool) -> None:
    if strict:
        raise DataError(message)
    log.warning("skipping %s", message)
    report.skipped.append(message)


def _to_face_array(image: Image.Image, report: LoadReport) -> np.ndarray:
    gray = image.convert("L")
    if gray.size != (IMAGE_SIZE, IMAGE_SIZE):
        gray = gray.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
        report.resized += 1
    return np.asarray(gray, dtype=np.uint8)


def _class_index(folder: Path) -> int:
    name = folder.name.lower()
    if name not in EMOTIONS:
        raise DataError(f"{folder}: unknown class folder '{folder.name}' (expected one of {', '.join(EMOTIONS)})")
    return EMOTIONS.index(name)


def _split_folder_hint(split_dir: Path) -> str:
    """Why a split folder may be missing: --data given as a split (test/ holds class folders, not splits), or
    the -holdout slice asked of a command that reads whole folders only."""
    data = split_dir.parent
    if any((data / name).is_dir() for name in EMOTIONS):
        return f"; {data} holds class folders: pass the dataset root, the folder that holds train/ and test/"
    if split_dir.name.lower().endswith(HOLDOUT_SUFFIX):
        whole = split_dir.name[: -len(HOLDOUT_SUFFIX)]
        return f"; {split_dir.name} is a slice of {whole}/ that train and convert.evaluate make, not a folder"
    return ""


def _image_files(split_dir: Path) -> list[tuple[Path, int]]:
    if split_dir.is_file():
        raise DataError(f"{split_dir}: is a file, not a split folder (<data>/<split>/<class>/*.png)")
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: split folder not found{_split_folder_hint(split_dir)}")
    files: list[tuple[Path, int]] = []
    # hidden folders (.ipynb_checkpoints, .DS_Store's kin) are not classes
    class_dirs = sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{split_dir}: no class folders inside")
    for class_dir in class_dirs:
        label = _class_index(class_dir)
        files.extend((f, label) for f in sorted(class_dir.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES)
    absent = [name for index, name in enumerate(EMOTIONS) if index not in {label for _, label in files}]
    if absent and files:
        log.warning("%s: no faces of %s (no folder, or no images in it): those classes are neither learned nor "
                    "judged from this split", split_dir, ", ".join(absent))
    if not files:
        raise DataError(f"{split_dir}: no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders")
    return files


def _fingerprint(parts: list[str]) -> str:
    digest = hashlib.sha256(CACHE_FORMAT_VERSION.encode())
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _load_folder_split(split_dir: Path, strict: bool) -> Split:
    files = _image_files(split_dir)
    report = LoadReport()
    images, labels = [], []
    for path, label in files:
        try:
            with Image.open(path) as image:
                images.append(_to_face_array(image, report))
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            _fail_or_skip(f"{path}: unreadable image ({exc.__class__.__name__})", report, strict)
            continue
        labels.append(label)
    if not images:
        raise DataError(f"{split_dir}: no readable images")
    x = np.stack(images)[..., None]
    return Split(split_dir.name, x, np.asarray(labels, dtype=np.int64), report)


def _parse_csv_row(row: dict[str, str], line: int, csv_path: Path) -> tuple[np.ndarray, int]:
    try:
        label = int(row["emotion"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{csv_path}:{line}: bad emotion value {row.get('emotion')!r}") from None
    if not 0 <= label < len(EMOTIONS):
        raise ValueError(f"{csv_path}:{line}: emotion {label} out of range 0..{len(EMOTIONS) - 1}")
    values = (row.get("pixels") or "").split()
    if len(values) != IMAGE_SIZE * IMAGE_SIZE:
        raise ValueError(f"{csv_path}:{line}: pixels has {len(values)} values, expected {IMAGE_SIZE * IMAGE_SIZE}")
    try:
        pixels = np.asarray([int(v) for v in values], dtype=np.int64)
    except ValueError:
        raise ValueError(f"{csv_path}:{line}: pixels holds a non-integer value") from None
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{csv_path}:{line}: pixel values outside 0..255")
    return pixels.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE), label


def _csv_split_names() -> str:
    """The --split names a CSV dataset takes and the Usage each selects, for an error message."""
    return f"{', '.join(CSV_SPLIT_USAGE)} = Usage {', '.join(CSV_SPLIT_USAGE.values())}"


def _unknown_usage(csv_path: Path, counts: Counter[str], report: LoadReport, strict: bool) -> None:
    """Rows whose Usage is none of the known values (a typo such as `Trainig`) belong to no split: each load
    names them and their counts, so they are not silently lost; with strict=True they are fatal."""
    named = ", ".join(f"{usage!r} ({count})" for usage, count in counts.most_common())
    message = (f"{csv_path}: {counts.total()} row(s) with an unknown Usage value, in no split: {named} (known: "
               f"{', '.join(CSV_SPLIT_USAGE.values())})")
    if strict:
        raise DataError(message)
    log.warning("%s", message)
    report.unknown_usage = counts.total()


def _load_csv_split(csv_path: Path, split: str, strict: bool) -> Split:
    if split not in CSV_SPLIT_USAGE:
        raise DataError(f"{csv_path}: unknown split '{split}' (a CSV dataset has the splits {_csv_split_names()})")
    report = LoadReport()
    images, labels = [], []
    unknown_usage: Counter[str] = Counter()
    with csv_path.open(newline="", encoding=CSV_ENCODING) as handle:
        reader = csv.DictReader(handle)
        try:
            missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
            if missing:
                raise DataError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                usage = (row.get("Usage") or "").strip()
                if usage.lower() not in CSV_USAGE_TO_SPLIT:
                    unknown_usage[usage] += 1
                    continue
                if CSV_USAGE_TO_SPLIT[usage.lower()] != split:
                    continue
                try:
                    image, label = _parse_csv_row(row, reader.line_num, csv_path)
                except ValueError as exc:
                    _fail_or_skip(str(exc), report, strict)
                    continue
                images.append(image)
                labels.append(label)
        except UnicodeDecodeError as exc:  # the whole file is unusable: a text CSV cannot resynchronise
            raise DataError(f"{csv_path}: not a UTF-8 text CSV ({exc.reason}; expected fer2013.csv's columns "
                            "emotion, pixels, Usage)") from None
        except csv.Error as exc:
            # line_num counts the lines read before the one the reader choked on
            raise DataError(f"{csv_path}:{reader.line_num + 1}: malformed CSV ({exc})") from None
    if unknown_usage:
        _unknown_usage(csv_path, unknown_usage, report, strict)
    if not images:
        raise DataError(f"{csv_path}: no rows for split '{split}' (Usage {CSV_SPLIT_USAGE[split]}; the splits are "
                        f"{_csv_split_names()})")
    return Split(split, np.stack(images)[..., None], np.asarray(labels, dtype=np.int64), report)


def resolve_source(data: Path) -> Path:
    """A dataset is a folder with split subfolders, a folder holding fer2013.csv, or the CSV itself."""
    if not data.exists():
        raise DataError(f"{data}: dataset path not found")
    if data.is_dir() and (data / CSV_NAME).is_file() and not (data / "train").is_dir():
        return data / CSV_NAME
    return data


STRICT_CACHE_TAG = "-strict"


def split_folder(root: Path, split: str) -> Path:
    """root/split, or the one folder whose name matches it in another case (`Train/`, `Test/`, as class folders
    are matched); root/split itself when there is none (the loader then names it as missing)."""
    exact = root / split
    if exact.is_dir() or not root.is_dir():
        return exact
    matches = [child for child in root.iterdir() if child.is_dir() and child.name.lower() == split.lower()]
    return matches[0] if len(matches) == 1 else exact


def _cache_key(source: Path, split: str) -> str:
    if source.is_file():
        stat = source.stat()
        return _fingerprint([str(source.resolve()), split, str(stat.st_size), str(stat.st_mtime_ns)])
    folder = split_folder(source, split)
    files = _image_files(folder)
    parts = [str(folder.resolve())]
    for path, label in files:
        stat = path.stat()
        parts.append(f"{path.parent.name}/{path.name}:{label}:{stat.st_size}:{stat.st_mtime_ns}")
    return _fingerprint(parts)


def read_cache(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """A cache entry's faces and labels; None (with a warning, the entry removed) when it is damaged, e.g.
    truncated by a full disk or a killed run: the split is then decoded again."""
    try:
        with np.load(path) as cached:
            x, y = cached["x"], cached["y"]
        if len(x) != len(y):
            raise ValueError(f"{len(x)} faces, {len(y)} labels")
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        log.warning("decode cache %s is damaged (%s): removed, decoding the split again", path, exc)
        path.unlink(missing_ok=True)
        return None
    return x, y


def load_split(data: Path, split: str, cache_dir: Path | None = None, strict: bool = False) -> Split:
    """Load one split ('train', 'test', 'privatetest') from either format, using the cache when valid. A
    strict load has its own cache entry: one cached by a lenient load may have skipped bad rows."""
    source = resolve_source(Path(data))
    strictness = STRICT_CACHE_TAG if strict else ""
    cache_path = cache_dir / f"{split}-{_cache_key(source, split)}{strictness}.npz" if cache_dir else None
    if cache_path and cache_path.is_file():
        cached = read_cache(cache_path)
        if cached is not None:
            log.info("loaded %s split from cache %s", split, cache_path)
            return Split(split, *cached)
    if source.is_file():
        result = _load_csv_split(source, split, strict)
    else:
        result = _load_folder_split(split_folder(source, split), strict)
    log.info("loaded %s split: %d faces (%s)", split, len(result), result.report.summary())
    if cache_path:
        write_cache(cache_path, result)
    return result


def write_cache(cache_path: Path, split: Split) -> None:
    """Best effort: a cache that cannot be written (a file where its folder should be, a full disk) only costs
    the next run a decode, so it is a warning, not the end of a run whose split is already decoded."""
    tmp = cache_path.with_suffix(".tmp")
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, x=split.x, y=split.y)
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(cache_path)
    except OSError as exc:
        log.warning("cache %s: cannot write (%s); going on without it", cache_path, exc.strerror or exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


DEFAULT_VAL_FRACTION = 0.1  # share of train that `python -m train` holds out for validation
HOLDOUT_SUFFIX = "-holdout"  # the held-out slice of split "train" is named "train-holdout"
TRAIN_SLICE = "train" + HOLDOUT_SUFFIX
FINGERPRINT_HEX = 16  # hex digits of a faces fingerprint kept in run.json and the sidecar


def extra_split_of(fitted: list[str]) -> str | None:
    """The --extra-train-split a run's recorded fitted splits imply (the one not part of "train")."""
    extra = [name for name in fitted if name not in ("train", TRAIN_SLICE)]
    return extra[0] if extra else None


def is_held_out(split_name: str, fitted_splits) -> bool:
    """Whether figures on `split_name` are held out, given the splits a model was fitted on (case-blind:
    image folders may be named Test or test). "train-holdout" is held out of a model fitted on "train" (the
    slice is cut from it before fitting) unless listed itself; a slice of any other fitted split ("test-holdout"
    of a model fitted on "test") is fitted."""
    name = split_name.lower()
    fitted = {split.lower() for split in fitted_splits}
    base = name.removesuffix(HOLDOUT_SUFFIX)
    return name not in fitted and (base == "train" or base not in fitted)


def not_held_out_because(split_name: str, fitted_splits, validation_split: str | None = None) -> str | None:
    """Why figures on `split_name` are not held-out figures ("fitted", or "validation" when the split chose the
    model's epoch and offsets), or None when they are."""
    if not is_held_out(split_name, fitted_splits):
        return "fitted"
    if validation_split is not None and split_name.lower() == validation_split.lower():
        return "validation"
    return None


NOT_HELD_OUT_NOTES = {"fitted": "fitted: not held out", "validation": "validation split: chose the model, not held out"}


def union(*lists) -> list[str]:
    """The names of several lists, each once, in first-seen order."""
    return list(dict.fromkeys(name for names in lists for name in names))


def stratified_holdout(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out `fraction` of every class (at least one image) as a validation slice."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"validation fraction {fraction}: must be between 0 and 1")
    rng = np.random.default_rng(seed)
    val_idx = []
    for label in np.unique(split.y):
        idx = np.flatnonzero(split.y == label)
        rng.shuffle(idx)
        val_idx.extend(idx[: max(1, int(round(len(idx) * fraction)))])
    mask = np.zeros(len(split), dtype=bool)
    mask[val_idx] = True
    keep, hold = np.flatnonzero(~mask), np.flatnonzero(mask)
    return (
        Split(split.name, split.x[keep], split.y[keep], split.report),
        Split(f"{split.name}{HOLDOUT_SUFFIX}", split.x[hold], split.y[hold]),
    )


def faces_fingerprint(split: Split) -> str:
    """A short hash of a set of labelled faces, blind to their order: the slice a run held out is recorded by
    it, so an evaluation that re-cuts the slice from another form of the dataset (fer2013.csv lists the faces
    in another order than the image folders, so the same seed cuts other faces) is caught."""
    rows = sorted(hashlib.sha256(bytes([int(label)]) + face.tobytes()).digest()
                  for face, label in zip(np.ascontiguousarray(split.x, dtype=np.uint8), split.y))
    return hashlib.sha256(b"".join(rows)).hexdigest()[:FINGERPRINT_HEX]


def stratified_sample(split: Split, count: int, seed: int) -> np.ndarray:
    """About `count` images drawn in class proportion (used for int8 calibration)."""
    count = min(count, len(split))
    _, sample = stratified_holdout(split, count / len(split), seed) if count < len(split) else (None, split)
    return sample.x
