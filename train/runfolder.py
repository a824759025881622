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

from train.config import BEST_CHECKPOINT, LAST_CHECKPOINT, STATE_FILE, TrainConfig
from train.data import DataError

log = logging.getLogger(__name__)

START_RECORD = "start.json"
RUN_FILES = (STATE_FILE, LAST_CHECKPOINT, BEST_CHECKPOINT)  # any of these: the folder holds a run
# Flags that pick the faces a run fits, its validation slice or its model: a resume must keep them. Flags with
# no default (None) are adopted from the start record when left out; the others must be given the same value.
ADOPTED_FLAGS = ("val_split", "extra_train_split", "init_from", "distill_from", "width", "dense_units", "dropout")
REQUIRED_FLAGS = ("seed", "val_fraction", "limit")
ARCHITECTURE_FLAGS = ("width", "dense_units", "dropout")
PATH_FLAGS = ("init_from", "distill_from")


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


def check_fresh_folder(args: argparse.Namespace) -> None:
    """A new training run or soup may not write into a folder that holds a training run."""
    if args.resume or args.reports_only:
        return
    guarded = (STATE_FILE,) if args.soup else RUN_FILES
    held = [name for name in guarded if (args.out / name).exists()]
    if held:
        raise DataError(f"--out {args.out}: already holds a run ({held[0]}); pass --resume to continue it, or name "
                        "a new folder")


def start_values(args: argparse.Namespace, config: TrainConfig) -> dict:
    """The values of the lineage flags this run trains with (architecture as built, paths as strings)."""
    values = {name: getattr(args, name) for name in (*ADOPTED_FLAGS, *REQUIRED_FLAGS)}
    values.update({name: getattr(config, name) for name in ARCHITECTURE_FLAGS})
    if args.val_split:
        values["val_fraction"] = None
    return {name: str(value) if isinstance(value, Path) else value for name, value in values.items()}


def same_value(name: str, given, recorded) -> bool:
    """Paths are the same when they name the same file, however spelt."""
    if name in PATH_FLAGS and given is not None and recorded is not None:
        return Path(given).resolve() == Path(recorded).resolve()
    return given == recorded


def write_start_record(args: argparse.Namespace, config: TrainConfig) -> None:
    """start.json of a fresh training run (atomically)."""
    staged = args.out / (START_RECORD + ".tmp")
    staged.write_text(json.dumps(start_values(args, config), indent=2))
    staged.replace(args.out / START_RECORD)


def adopt_start_record(args: argparse.Namespace) -> None:
    """--resume: take the lineage flags left out from start.json, and refuse any given with another value.
    A run started before start.json existed is resumed on the flags as given (logged)."""
    path = args.out / START_RECORD
    if not args.resume or not path.is_file():
        if args.resume and (args.out / STATE_FILE).is_file():
            log.info("%s has no %s (started by an older version): the resume trusts the flags as given",
                     args.out, START_RECORD)
        return
    started = read_run_record(path, "--resume")
    for name in (*ADOPTED_FLAGS, *REQUIRED_FLAGS):
        if name not in started:
            continue
        recorded, given = started[name], getattr(args, name)
        if name == "val_fraction" and started.get("val_split"):
            continue
        if given is None and name in ADOPTED_FLAGS:
            if recorded is not None:
                setattr(args, name, Path(recorded) if name in PATH_FLAGS else recorded)
                log.info("--resume: %s %s, as %s was started", flag_name(name), recorded, args.out)
            continue
        shown = str(given) if isinstance(given, Path) else given
        if not same_value(name, shown, recorded):
            was = "not given" if recorded is None else recorded
            raise DataError(f"{flag_name(name)} {shown}: {args.out} was started with {flag_name(name)} {was}; a "
                            "resume must keep it (it picks the faces fitted, the validation slice or the model)")
