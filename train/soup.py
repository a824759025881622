"""Weight soups: one model whose weights are the uniform mean of several finished runs' weights.

Runs that started from the same checkpoint and were trained on the same faces (e.g. averaging tails at
different constant learning rates) stay in one basin of the loss, so the mean of their weights is itself a good
model, often better than each member, at the cost of one model. Runs from unrelated starts do not average to a
useful net; the soup's validation figure shows that at once.

Each member's tuned class offsets are taken back out before mixing, and the batch-norm statistics are
recomputed for the mixed weights on the training faces. Members must share the validation slice (seed and
fraction), or the soup would be judged on faces some member trained on.
"""

from __future__ import annotations

import logging
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from train.config import BEST_CHECKPOINT, RUN_RECORD
from train.data import DataError
from train.runfolder import read_run_record

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

MIN_MEMBERS = 2


def read_member(run: Path) -> dict:
    """A member's run.json; a DataError naming the run when it is not a finished run folder."""
    for name in (BEST_CHECKPOINT, RUN_RECORD):
        if not (run / name).is_file():
            raise DataError(f"--soup {run}: not a finished run folder (no {name})")
    return read_run_record(run / RUN_RECORD, "--soup")


def check_members(runs: list[Path], seed: int, val_fraction: float | None, val_split: str | None = None) -> list[str]:
    """The splits every member was fitted on. Members must share the validation slice (`seed`, and
    `val_fraction` or `val_split` where their run.json records it) and the fitted splits; a warning when they
    did not start from one checkpoint."""
    if len(runs) < MIN_MEMBERS:
        raise DataError(f"--soup: needs at least {MIN_MEMBERS} run folders, got {len(runs)}")
    records = [read_member(run) for run in runs]
    fitted = records[0].get("fitted_splits") or ["train"]
    for run, record in zip(runs, records):
        member_seed = record.get("config", {}).get("seed")
        if member_seed != seed:
            raise DataError(f"--soup {run}: trained with --seed {member_seed}, not {seed}: its validation slice "
                            "differs, so the soup would be judged on faces it trained on")
        member_fraction = record.get("val_fraction")
        if member_fraction is not None and member_fraction != val_fraction:
            raise DataError(f"--soup {run}: trained with --val-fraction {member_fraction}, not {val_fraction}: its "
                            "validation slice differs")
        if "val_split" in record and record["val_split"] != val_split:
            raise DataError(f"--soup {run}: validated on {record['val_split'] or 'a train slice'}, not "
                            f"{val_split or 'a train slice'} (--val-split): it was fitted on other faces")
        if (record.get("fitted_splits") or ["train"]) != fitted:
            raise DataError(f"--soup {run}: fitted on {record.get('fitted_splits')}, the first member on {fitted}")
    starts = {record.get("init_from") for record in records}
    if len(starts) > 1:
        log.warning("soup members started from different checkpoints %s: weights of unrelated runs rarely "
                    "average to a useful model (check the validation figure)", sorted(map(str, starts)))
    return fitted


def mean_weights(members: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of each weight tensor over the members (float64 while summing)."""
    shapes = [[w.shape for w in weights] for weights in members]
    if any(s != shapes[0] for s in shapes[1:]):
        raise DataError("--soup: the runs have different architectures (weight shapes differ)")
    return [np.mean([np.asarray(weights[i], np.float64) for weights in members], axis=0)
            for i in range(len(members[0]))]


def cook(runs: list[Path], train_faces: np.ndarray) -> keras.Model:
    """The first member's model carrying the mean of all members' weights, batch norm recomputed."""
    import keras

    from train.averaging import recalibrate_batch_norm
    from train.reports import unfold_previous_bias
    import train.mirror_symmetric  # noqa: F401 - registers the layers a --symmetry mirror member holds

    models = []
    for run in runs:
        try:
            model = keras.models.load_model(run / BEST_CHECKPOINT)
            unfold_previous_bias(model, run)
        except (OSError, ValueError) as exc:
            raise DataError(f"--soup {run}: cannot load {BEST_CHECKPOINT} ({exc})") from None
        models.append(model)
    soup = models[0]
    mixed = mean_weights([model.get_weights() for model in models])
    soup.set_weights([m.astype(w.dtype) for m, w in zip(mixed, soup.get_weights())])
    recalibrate_batch_norm(soup, train_faces)
    log.info("soup of %d runs (%s), batch norm recomputed on %d training faces", len(runs),
             ", ".join(str(run) for run in runs), len(train_faces))
    return soup
