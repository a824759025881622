"""Which faces a run's weights have seen, through the runs it started from or learned from.

A run started with --init-from carries every face its parent was fitted on, and a student trained with
--distill-from learns from a teacher fitted on its own faces; figures on any of those faces are not held out.
A parent that held out another validation slice (another --seed or --val-fraction) was fitted on part of this
run's slice, so the slice counts as fitted too."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from train.config import RUN_RECORD
from train.data import TRAIN_SLICE, union
from train.runfolder import read_run_record

log = logging.getLogger(__name__)


def parent_record(path: Path, flag: str) -> dict | None:
    """run.json of the run folder `path` names (a folder, or a checkpoint inside one); None when there is none
    (a checkpoint from elsewhere: its lineage is unknown, which is logged)."""
    folder = path if path.is_dir() else path.parent
    record = folder / RUN_RECORD
    if not record.is_file():
        log.warning("%s %s: no %s beside it, so the faces it was fitted on are unknown; figures may overstate "
                    "held-out accuracy", flag, path, RUN_RECORD)
        return None
    return read_run_record(record, flag)


def same_slice(record: dict, seed: int, val_fraction: float) -> bool:
    """Whether a parent run held out the same train slice a child with `seed` and `val_fraction` holds out."""
    parent_seed = record.get("config", {}).get("seed")
    parent_fraction = record.get("val_fraction")
    return parent_seed == seed and (parent_fraction is None or parent_fraction == val_fraction)


def inherited_splits(record: dict, args: argparse.Namespace) -> list[str]:
    """The splits a parent's weights were fitted on, as they bear on this run's figures."""
    fitted = list(record.get("fitted_splits") or ["train"])
    holds_slice = not args.val_split
    if holds_slice and "train" in fitted and not same_slice(record, args.seed, args.val_fraction):
        fitted.append(TRAIN_SLICE)
    return fitted


def own_splits(args: argparse.Namespace) -> list[str]:
    """The splits this run fits itself: "train" less its validation slice, or the whole of "train" (its slice
    included) when validation is another split, plus the extra split."""
    whole_train = [TRAIN_SLICE] if args.val_split else []
    return ["train", *whole_train, *([args.extra_train_split] if args.extra_train_split else [])]


def run_fitted_splits(args: argparse.Namespace, recorded: list[str] | None = None) -> list[str]:
    """Every split the run's weights have seen: its own, its --init-from and --distill-from parents' (and,
    re-reporting a finished run, what its run.json recorded)."""
    parents = [(args.init_from, "--init-from"), (args.distill_from, "--distill-from")]
    inherited = []
    for path, flag in parents:
        record = parent_record(path, flag) if path is not None else None
        if record is not None:
            inherited.append(inherited_splits(record, args))
    return union(own_splits(args), *inherited, recorded or [])
