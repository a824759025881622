"""The records a run folder keeps about its run, read and checked without TensorFlow.

run.json is written when a run finishes (convert and --reports-only read it); start.json when a training run
starts, so that --resume continues the same run: a resumed run that cut another validation slice, fitted other
faces or named another architecture would record a lineage it does not have. A fresh run never overwrites a
run folder: hours of checkpoints are one forgotten --resume away from being replaced."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from train.config import (ARCHITECTURE_FIELDS, BEST_CHECKPOINT, HISTORY_FILE, LAST_CHECKPOINT, RUN_FILES, RUN_RECORD,
                          STATE_FILE, TrainConfig, checkpoint_architecture, write_text_atomic)
from train.data import DEFAULT_VAL_FRACTION, DataError

log = logging.getLogger(__name__)

START_RECORD = "start.json"
# Flags that pick the faces a run fits, its validation slice or its teacher: a resume adopts those left out and
# refuses those given with another value. Their argparse default is None ("left out"); DEFAULTS fills them after.
LINEAGE_FLAGS = ("seed", "val_fraction", "val_split", "extra_train_split", "init_from", "distill_from",
                 "distill_weight", "distill_temperature", "limit")
TEACHER_FLAGS = ("distill_weight", "distill_temperature")  # None in start.json for a run without a teacher
DEFAULT_DISTILL_WEIGHT = 0.5
DEFAULTS = {"seed": TrainConfig().seed, "val_fraction": DEFAULT_VAL_FRACTION, "limit": 0}
PATH_FLAGS = ("init_from", "distill_from")
FINGERPRINT_KEY = "val_fingerprint"  # train.data.faces_fingerprint of the validation faces (start.json, run.json)


def read_run_record(path: Path, flag: str) -> dict:
    """A run.json (or start.json) as a dict whose "config", when present, is a dict too; a DataError naming
    `flag` and the file when it is unreadable, not JSON or not such an object."""
    try:
        record = json.loads(path.read_text())
    except OSError as exc:
        raise DataError(f"{flag} {path}: not readable ({exc.strerror})") from None
    except ValueError as exc:
        raise DataError(f"{flag} {path}: not valid JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("config", {}), dict):
        raise DataError(f"{flag} {path}: not a run record (a JSON object with a config object)")
    return record


def flag_name(name: str) -> str:
    """The command-line spelling of an argparse destination: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


def resuming(args: argparse.Namespace) -> bool:
    """Whether this run continues an interrupted (or finished) training run: --resume and its checkpoints."""
    return bool(args.resume) and (args.out / STATE_FILE).is_file() and (args.out / LAST_CHECKPOINT).is_file()


def first_epoch_cut_short(out: Path) -> bool:
    """Whether `out` holds a training run stopped during its first epoch's checkpoint saves before its resume state
    was saved (an older version saved model.keras first): start.json, no state.json or run.json, and no history
    row after the first epoch's. Nothing of it can be resumed, and nothing is lost by starting it afresh."""
    if not (out / START_RECORD).is_file() or (out / STATE_FILE).exists() or (out / RUN_RECORD).exists():
        return False
    history = out / HISTORY_FILE
    try:
        rows = history.read_text().splitlines()[1:] if history.is_file() else []
    except (OSError, ValueError):
        return False  # unreadable: it may list more epochs
    return all(row.partition(",")[0].strip() in ("", "0") for row in rows)  # CSVLogger: the epoch comes first


def check_fresh_folder(args: argparse.Namespace) -> None:
    """A new training run or soup may not write into a folder that holds a training run, nor may --resume
    train afresh over a soup or a run whose resume state is gone (a first epoch cut short before its resume
    state was saved has nothing to lose: --resume starts it afresh)."""
    if args.reports_only:
        return
    if args.resume:
        held = [name for name in (BEST_CHECKPOINT, RUN_RECORD) if (args.out / name).exists()]
        if held and not resuming(args) and first_epoch_cut_short(args.out):
            log.info("--resume: %s holds only a first epoch stopped before its resume state was saved: starting "
                     "afresh", args.out)
        elif held and not resuming(args):
            raise DataError(f"--resume: {args.out} holds {held[0]} but no {STATE_FILE} and {LAST_CHECKPOINT} to "
                            "continue from (a soup, or a run whose resume state is gone); name a new folder")
        return
    guarded = (STATE_FILE,) if args.soup else RUN_FILES
    held = [name for name in guarded if (args.out / name).exists()]
    if held:
        raise DataError(f"--out {args.out}: already holds a run ({held[0]}); pass --resume to continue it, or name "
                        "a new folder")


def make_run_folder(out: Path) -> Path | None:
    """mkdir -p `out`; the topmost folder this created (None when `out` existed), for remove_if_left_empty."""
    created = None
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                raise DataError(f"--out {out}: cannot create the run folder ({folder} is a file, not a folder)")
            break
        created = folder
    out.mkdir(parents=True, exist_ok=True)
    return created


def remove_if_left_empty(out: Path, created: Path | None) -> None:
    """Undo make_run_folder after a run that failed before writing anything: rmdir from `out` up to `created`
    while the folders are empty, so a typo'd --out does not leave empty folders behind. Never removes a file."""
    if created is None:
        return
    for folder in (out, *out.parents):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or gone): keep it and everything above
        if folder == created:
            return


def adopt_architecture(args: argparse.Namespace, checkpoint: Path, source: str) -> None:
    """The architecture comes from the checkpoint the run starts from (--init-from) or continues (--resume): its
    width, dense units and dropout become the run's (and its run.json's); a flag asking for another is refused."""
    for name, value in checkpoint_architecture(checkpoint).items():
        given = getattr(args, name)
        if given is not None and given != value:
            raise DataError(f"{flag_name(name)} {given}: the {source} checkpoint {checkpoint} has {name} {value} "
                            "(the architecture comes from the checkpoint; drop the flag)")
        setattr(args, name, value)


def start_values(args: argparse.Namespace, config: TrainConfig, command: str | None = None) -> dict:
    """What start.json keeps: the lineage flags (paths absolute), the architecture, the fitted splits and the
    command that started the run (a resume's run.json gives it with the resuming command after it)."""
    values = {name: getattr(args, name) for name in LINEAGE_FLAGS}
    values["command"] = command
    values.update({name: getattr(config, name) for name in ARCHITECTURE_FIELDS})
    values["fitted_splits"] = list(getattr(args, "fitted", []))
    values[FINGERPRINT_KEY] = getattr(args, "val_fingerprint", None)
    if args.distill_from is None:
        values.update(dict.fromkeys(TEACHER_FLAGS))
    if args.val_split:
        values["val_fraction"] = None
    return {name: str(Path(value).resolve()) if name in PATH_FLAGS and value is not None else value
            for name, value in values.items()}


def same_file(given: str | Path, recorded: str | Path) -> bool:
    """The same file however spelt (relative paths resolve from the working folder)."""
    return Path(given).resolve() == Path(recorded).resolve()


def same_value(name: str, given, recorded) -> bool:
    """Paths are the same when they name the same file, however spelt."""
    if name in PATH_FLAGS and given is not None and recorded is not None:
        return same_file(given, recorded)
    return given == recorded


def write_start_record(args: argparse.Namespace, config: TrainConfig, command: str | None = None) -> None:
    """start.json of a training run that starts (or of an older run's first resume), atomically."""
    write_text_atomic(args.out / START_RECORD, json.dumps(start_values(args, config, command), indent=2))


def settle_lineage_flags(args: argparse.Namespace) -> dict:
    """A resume takes the lineage flags left out from start.json and refuses any given with another value, and
    its architecture from last.keras; then the flags still left out get their defaults. Returns start.json
    ({} when not resuming, or for a run started before start.json existed)."""
    started = {}
    if resuming(args):
        adopt_architecture(args, args.out / LAST_CHECKPOINT, "--resume")
        path = args.out / START_RECORD
        if path.is_file():
            started = read_run_record(path, "--resume")
        else:
            log.info("%s has no %s (started by an older version): the resume trusts the flags as given",
                     args.out, START_RECORD)
    trains = not (getattr(args, "soup", None) or getattr(args, "reports_only", False))
    for name in LINEAGE_FLAGS:
        if name in TEACHER_FLAGS and not trains:
            continue  # nothing is trained: a teacher's settings have no use (and given, are refused as such)
        if name in started:
            adopt_or_refuse(args, name, started[name], started.get("val_split"))
    if started and started.get("distill_from") and not set(TEACHER_FLAGS) <= started.keys():
        log.info("%s: %s predates recording --distill-weight and --distill-temperature: the resume uses them as "
                 "given (defaults %s and %s)", args.out, START_RECORD, DEFAULT_DISTILL_WEIGHT,
                 TrainConfig.distill_temperature)
    if getattr(args, "reports_only", False) and (args.out / RUN_RECORD).is_file():
        adopt_slice_flags(args, read_run_record(args.out / RUN_RECORD, "--reports-only"))
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    return started


def adopt_slice_flags(args: argparse.Namespace, record: dict) -> None:
    """--reports-only: --seed, --val-fraction and --limit left out are the finished run's (they cut its
    validation slice and its training faces), not the defaults; given ones are checked against it later
    (train.cli.adopt_run_record)."""
    seed, fraction, limit = record.get("config", {}).get("seed"), record.get("val_fraction"), record.get("limit")
    if args.limit is None and isinstance(limit, int):
        args.limit = limit
    if args.seed is None and isinstance(seed, int):
        args.seed = seed
    if args.val_fraction is None and isinstance(fraction, (int, float)):
        args.val_fraction = float(fraction)


def adopt_or_refuse(args: argparse.Namespace, name: str, recorded, val_split: str | None) -> None:
    given = getattr(args, name)
    if name == "val_fraction" and val_split:
        return  # validated on another split: the fraction cuts nothing
    if given is None:
        if recorded is not None:
            setattr(args, name, Path(recorded) if name in PATH_FLAGS else recorded)
            log.info("--resume: %s %s, as %s was started", flag_name(name), recorded, args.out)
        return
    shown = str(given) if isinstance(given, Path) else given
    if not same_value(name, shown, recorded):
        was = "not given" if recorded is None else recorded
        raise DataError(f"{flag_name(name)} {shown}: {args.out} was started with {flag_name(name)} {was}; a resume "
                        "must keep it (it picks the faces fitted, the validation slice or the teacher)")


def recorded_fingerprints(args: argparse.Namespace, started: dict, previous: dict) -> list[tuple[Path, str]]:
    """The validation fingerprints this run must match, with the file that records each: the run's start.json
    (a resume), its run.json (--reports-only) and every --soup member's run.json."""
    records = [(args.out / START_RECORD, started), (args.out / RUN_RECORD, previous)]
    if args.soup and not args.reports_only:
        records += [(run / RUN_RECORD, read_run_record(run / RUN_RECORD, "--soup")) for run in args.soup]
    return [(path, record[FINGERPRINT_KEY]) for path, record in records if record.get(FINGERPRINT_KEY)]


def check_validation_faces(args: argparse.Namespace, fingerprint: str, recorded: list[tuple[Path, str]]) -> None:
    """The validation faces cut now must be those recorded: the same --seed cuts other faces from another form of
    the dataset (fer2013.csv lists them in another order than the image folders) or from another dataset, and
    the run would then pick epochs, tune offsets and report on faces it trained on."""
    for path, expected in recorded:
        if expected != fingerprint:
            raise DataError(f"--data {args.data}: its validation faces (fingerprint {fingerprint}) are not those "
                            f"{path} records ({expected}); use the dataset (and its form: image folders or "
                            "fer2013.csv) the run was trained on")
