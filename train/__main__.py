"""python -m train --data ../shared/datasets/fer2013 --out runs/<name>: fit the model and write every report."""

from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge.cli_common import OneLineParser, non_negative_int, setup_logging
from edge.errors import EdgeError
from train.config import (ARCHITECTURE_FIELDS, BEST_CHECKPOINT, LAST_CHECKPOINT, POOLINGS, RUN_RECORD, STATE_FILE,
                          TrainConfig, keras_archive_problem, read_state)
from train.data import (DEFAULT_CACHE_DIR, DEFAULT_VAL_FRACTION, NOT_HELD_OUT_NOTES, TRAIN_SLICE, DataError, Split,
                        extra_split_of, faces_fingerprint, is_held_out, load_split, not_held_out_because,
                        stratified_holdout, union)
from train.environment import require_tensorflow
from train.labels import EMOTIONS
from train.lineage import run_fitted_splits
from train.runfolder import (FINGERPRINT_KEY, adopt_architecture, check_fresh_folder, check_validation_faces,
                             make_run_folder, read_run_record, recorded_fingerprints, remove_if_left_empty, resuming,
                             settle_lineage_flags, write_start_record)
from train.runfolder import flag_name as flag
from train.stopping import sigterm_stops, stop_cause, stop_exit_code

if TYPE_CHECKING:
    import keras

# Under `python -m train` __name__ is "__main__"; the spec's name keeps the records named train.__main__.
log = logging.getLogger(__spec__.name if __spec__ is not None else __name__)

DEFAULT_DISTILL_WEIGHT = 0.5
EXIT_BAD_INPUT = 2
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
BF16_GPU_CAPABILITY = (8, 0)  # Ampere: the first NVIDIA GPUs with bf16 tensor cores
RECORD_KEYS = ("config", "command", "seconds")  # what --reports-only keeps from a finished run's run.json
FLOAT_FLAGS = ("lr", "weight_decay", "label_smoothing", "class_weight_power", "dropout", "mixup", "distill_weight",
               "distill_temperature", "val_fraction", "sam")


def cpu_supports_bf16() -> bool:
    """bf16 pays off where the CPU has bf16 instructions (x86 avx512_bf16/AMX, Arm bf16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def auto_mixed_precision() -> bool:
    """`--mixed-precision auto`: bf16 where the device that trains runs it natively. With a GPU that is the GPU
    (compute capability 8.0, Ampere, or newer; a GTX 10xx, RTX 20xx, T4 or V100 would emulate it slowly),
    whatever the CPU has; without one, the CPU's bf16 instructions."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return cpu_supports_bf16()
    capabilities = [tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0))
                    for gpu in gpus]
    native = all(capability >= BF16_GPU_CAPABILITY for capability in capabilities)
    log.info("GPU compute capability %s: bfloat16 mixed precision %s", capabilities, "on" if native else "off")
    return native


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = TrainConfig()
    parser = OneLineParser(prog="python -m train", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="image-folder dataset or fer2013.csv")
    parser.add_argument("--out", type=Path, required=True, help="run folder for checkpoints and reports")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="peak learning rate (SGD Nesterov)")
    parser.add_argument("--schedule", choices=("cosine", "constant"), default=defaults.schedule,
                        help="learning rate after warm-up: cosine decay to zero, or constant (for --average-last)")
    parser.add_argument("--average-last", type=int, default=defaults.average_last,
                        help="average the weights of the last N epochs (stochastic weight averaging); 0 = off")
    parser.add_argument("--warmup-epochs", type=int, default=defaults.warmup_epochs)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    parser.add_argument("--class-weight-power", type=float, default=defaults.class_weight_power,
                        help="0 = no re-weighting, 1 = inverse class frequency")
    parser.add_argument("--width", type=int,
                        help=f"filters of the first block; blocks 2-4 get 2, 4 and 8 times as many (default "
                             f"{defaults.width}; with --init-from, the checkpoint's)")
    parser.add_argument("--early-width", type=int,
                        help="narrow blocks 1-2 alone to this many filters (block 2: twice): about half the "
                             "multiply-accumulates for under 3 %% of the weights (default --width; with --init-from, "
                             "the checkpoint's)")
    parser.add_argument("--dense-units", type=int,
                        help=f"units of the dense head (default {defaults.dense_units}; with --init-from, the "
                             "checkpoint's)")
    parser.add_argument("--dropout", type=float,
                        help=f"dropout before the last layer (default {defaults.dropout}; with --init-from, the "
                             "checkpoint's)")
    parser.add_argument("--pooling", choices=POOLINGS,
                        help=f"how the last block's map becomes one vector: global average, or learned weights per "
                             f"position (default {defaults.pooling}; with --init-from, the checkpoint's)")
    parser.add_argument("--last-block-convs", type=int,
                        help=f"convs of block 4, on its 6x6 map (blocks 1-3 keep two; default "
                             f"{defaults.last_block_convs}; with --init-from, the checkpoint's)")
    parser.add_argument("--mixup", type=float, default=defaults.mixup,
                        help="mixup Beta(alpha, alpha): blend training faces and labels pairwise (0 = off; try 0.2)")
    parser.add_argument("--sam", type=float, default=defaults.sam_rho, metavar="RHO",
                        help="sharpness-aware steps: climb RHO along the gradient before each update (0 = off; "
                             "try 0.05; twice the cost per step)")
    parser.add_argument("--distill-from", type=Path, metavar="RUN",
                        help="finished run folder whose mirror-averaged predictions become soft training targets")
    parser.add_argument("--distill-weight", type=float, default=DEFAULT_DISTILL_WEIGHT,
                        help="share of the teacher's targets in each training row (with --distill-from)")
    parser.add_argument("--distill-temperature", type=float, default=defaults.distill_temperature,
                        help="softens the teacher's logits before they become targets")
    parser.add_argument("--patience", type=int, default=defaults.patience, help="early-stopping epochs")
    parser.add_argument("--seed", type=non_negative_int,
                        help=f"seed of the validation slice, data order and initial weights (default {defaults.seed}; "
                             "with --resume, the run's)")
    parser.add_argument("--mixed-precision", choices=("auto", "on", "off"), default="auto",
                        help="bfloat16 mixed precision; auto = on where the device that trains runs bf16 natively "
                             "(a GPU of compute capability 8.0 or newer; without a GPU, a CPU with bf16 instructions)")
    parser.add_argument("--soup", type=Path, nargs="+", metavar="RUN",
                        help="instead of training: mix these finished runs (same start, same --seed) into one model "
                             "whose weights are their mean, batch norm recomputed, then report it like a run")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    parser.add_argument("--init-from", type=Path,
                        help="start from this checkpoint's weights (e.g. runs/a/last.keras; model.keras carries "
                             "tuned offsets) with a new schedule")
    parser.add_argument("--val-fraction", type=float,
                        help=f"share of train held out for validation when --val-split is not given (default "
                             f"{DEFAULT_VAL_FRACTION}; with --resume, the run's)")
    parser.add_argument("--val-split", type=str.lower,
                        help="use this split (e.g. test) for validation instead of a train slice")
    parser.add_argument("--eval-split", type=str.lower, default="test",
                        help="split reported at the end ('none' to skip)")
    parser.add_argument("--extra-train-split", type=str.lower,
                        help="also fit on this split (e.g. test, once a recipe is fixed)")
    parser.add_argument("--no-tune-bias", action="store_true",
                        help="skip tuning per-class logit offsets on the validation slice")
    parser.add_argument("--offsets-from", type=Path, metavar="RUN",
                        help="fold in the class offsets this finished run tuned instead of tuning (for a refit on "
                             "every labelled face, which leaves no held-out slice to tune on)")
    parser.add_argument("--reports-only", action="store_true",
                        help="no training: re-tune the offsets and rewrite the reports of a finished run")
    parser.add_argument("--limit", type=int,
                        help="use only N random training images (smoke runs; default 0: all; with --resume, the run's)")
    parser.add_argument("--strict", action="store_true", help="fail on the first unreadable image or CSV row")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, help="decoded-array cache")
    return parser.parse_args(argv)


def train_config(args: argparse.Namespace) -> TrainConfig:
    mixed = auto_mixed_precision() if args.mixed_precision == "auto" else args.mixed_precision == "on"
    values = {
        "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.lr,
        "warmup_epochs": args.warmup_epochs, "weight_decay": args.weight_decay,
        "label_smoothing": args.label_smoothing, "class_weight_power": args.class_weight_power,
        **{name: getattr(args, name) for name in ARCHITECTURE_FIELDS if getattr(args, name) is not None},
        "patience": args.patience, "seed": args.seed, "schedule": args.schedule,
        "average_last": args.average_last, "mixup": args.mixup, "mixed_precision": mixed,
        "distill_weight": args.distill_weight if args.distill_from else 0.0,
        "distill_temperature": args.distill_temperature, "sam_rho": args.sam,
    }
    return TrainConfig(**values)


def check_args(args: argparse.Namespace) -> None:
    """Every value check that needs no data, each failure naming its flag (before TensorFlow loads)."""
    for name in ("epochs", "batch_size", "width", "early_width", "dense_units", "last_block_convs"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise DataError(f"{flag(name)} {getattr(args, name)}: must be positive")
    for name in ("patience", "warmup_epochs", "weight_decay", "class_weight_power"):
        if getattr(args, name) < 0:
            raise DataError(f"{flag(name)} {getattr(args, name)}: must be 0 or positive")
    if args.limit < 0:
        raise DataError(f"--limit {args.limit}: must be 0 (all images) or positive")
    if not 0.0 < args.val_fraction < 1.0:
        raise DataError(f"--val-fraction {args.val_fraction}: must be between 0 and 1 (exclusive)")
    if not 0.0 <= args.label_smoothing <= 1.0:
        raise DataError(f"--label-smoothing {args.label_smoothing}: must be in [0, 1]")
    if not 0 <= args.average_last <= args.epochs:
        raise DataError(f"--average-last {args.average_last}: must be between 0 and --epochs ({args.epochs})")
    if args.dropout is not None and not 0.0 <= args.dropout < 1.0:
        raise DataError(f"--dropout {args.dropout}: must be in [0, 1)")
    if args.mixup < 0:
        raise DataError(f"--mixup {args.mixup}: must be 0 (off) or positive")
    if args.sam < 0:
        raise DataError(f"--sam {args.sam}: must be 0 (off) or positive")
    if args.lr <= 0:
        raise DataError(f"--lr {args.lr}: must be positive")
    for name in FLOAT_FLAGS:
        if getattr(args, name) is not None and not math.isfinite(getattr(args, name)):
            raise DataError(f"{flag(name)} {getattr(args, name)}: must be a finite number")
    if args.extra_train_split and args.extra_train_split.lower() in ("train", TRAIN_SLICE):
        raise DataError(f"--extra-train-split {args.extra_train_split}: already fitted (name another split, "
                        "e.g. test)")
    for name in (BEST_CHECKPOINT, RUN_RECORD):
        if args.reports_only and not (args.out / name).is_file():
            raise DataError(f"--reports-only: {args.out / name} not found (is the run finished?)")
    if args.distill_from is not None and not (args.distill_from / BEST_CHECKPOINT).is_file():
        raise DataError(f"--distill-from {args.distill_from}: not a finished run folder (no {BEST_CHECKPOINT})")
    if not 0.0 < args.distill_weight <= 1.0:
        raise DataError(f"--distill-weight {args.distill_weight}: must be in (0, 1]")
    if args.distill_temperature <= 0:
        raise DataError(f"--distill-temperature {args.distill_temperature}: must be positive")
    continuing = resuming(args)  # then the weights and the architecture come from last.keras, not --init-from
    if args.init_from is not None and not continuing and not args.init_from.is_file():
        raise DataError(f"--init-from {args.init_from}: no such checkpoint file")
    check_checkpoints(args)
    if args.init_from is not None and not continuing:
        adopt_architecture(args, args.init_from, "--init-from")
    if args.soup and (args.resume or args.init_from or args.distill_from):
        raise DataError("--soup: mixes finished runs; it cannot be combined with --resume, --init-from or --distill-from")


def check_checkpoints(args: argparse.Namespace) -> None:
    """Every .keras file the run will load, checked as an archive before TensorFlow loads."""
    named = [(args.init_from, "--init-from"), (args.distill_from and args.distill_from / BEST_CHECKPOINT,
                                                "--distill-from"),
             (args.reports_only and args.out / BEST_CHECKPOINT, "--reports-only"),
             (args.resume and args.out / LAST_CHECKPOINT, "--resume"),
             (resuming(args) and args.out / BEST_CHECKPOINT, "--resume")]
    for path, name in named:
        problem = keras_archive_problem(path) if path and path.is_file() else None
        if problem:
            raise DataError(f"{name} {path}: {problem}")
    if args.resume and (args.out / STATE_FILE).is_file():
        try:
            read_state(args.out)
        except ValueError as exc:
            raise DataError(str(exc)) from None


def check_offsets(args: argparse.Namespace) -> None:
    """Offsets are tuned on the validation split, so that split must be held out, unless they come from
    --offsets-from (read here: a bad file fails before any data loads) or are skipped."""
    if args.offsets_from is not None:
        if args.no_tune_bias:
            raise DataError("--offsets-from: cannot be combined with --no-tune-bias (which keeps zero offsets)")
        args.offsets = read_class_offsets(args.offsets_from)
        return
    args.offsets = None
    validation = args.val_split or TRAIN_SLICE
    if not args.no_tune_bias and not is_held_out(validation, args.fitted):
        raise DataError(f"validation split {validation}: also fitted ({' + '.join(args.fitted)}), so class offsets "
                        "tuned on it would be fitted too: pass --offsets-from RUN or --no-tune-bias")


def read_class_offsets(run: Path) -> list[float]:
    """The class offsets a finished run's run.json records, checked (one per emotion, finite)."""
    offsets = read_run_record(run / RUN_RECORD, "--offsets-from").get("class_bias")
    if (not isinstance(offsets, list) or len(offsets) != len(EMOTIONS)
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in offsets)):
        raise DataError(f"--offsets-from {run / RUN_RECORD}: class_bias is not {len(EMOTIONS)} finite numbers")
    return [float(v) for v in offsets]


def check_training_set(args: argparse.Namespace, train: Split) -> None:
    """Checks that need the loaded training faces: every batch is full (drop_remainder), so a batch larger than
    the training set would leave an epoch with no batch at all."""
    if not args.reports_only and not args.soup and args.batch_size > len(train):
        raise DataError(f"--batch-size {args.batch_size}: larger than the {len(train)} training faces "
                        "(every batch must be full)")


def load_data(args: argparse.Namespace) -> tuple[Split, Split, Split | None]:
    train = load_split(args.data, "train", args.cache_dir, args.strict)
    if args.val_split:
        val = load_split(args.data, args.val_split, args.cache_dir, args.strict)
    else:
        train, val = stratified_holdout(train, args.val_fraction, args.seed)
    if args.extra_train_split:
        extra = load_split(args.data, args.extra_train_split, args.cache_dir, args.strict)
        train = Split(train.name, np.concatenate([train.x, extra.x]), np.concatenate([train.y, extra.y]), train.report)
    if args.limit:
        keep = np.random.default_rng(args.seed).permutation(len(train))[: args.limit]
        train = Split(train.name, train.x[keep], train.y[keep], train.report)
    evaluation = None
    if args.eval_split.lower() != "none":
        evaluation = load_split(args.data, args.eval_split, args.cache_dir, args.strict)
    return train, val, evaluation


def load_checked_data(args: argparse.Namespace, start_record: dict,
                      previous: dict) -> tuple[Split, Split, Split | None]:
    """The splits, with the training set checked and the validation faces matched against the ones the run (or
    the run it starts from) recorded, so a re-cut slice never judges a model that trained on its faces."""
    train, val, evaluation = load_data(args)
    check_training_set(args, train)
    args.val_fingerprint = faces_fingerprint(val)
    check_validation_faces(args, args.val_fingerprint, recorded_fingerprints(args, start_record, previous))
    return train, val, evaluation


def adopt_run_record(args: argparse.Namespace) -> dict:
    """--reports-only: the finished run's run.json, checked against the flags that pick the validation slice (a
    different slice would re-tune and judge on faces the run trained on) and its lineage adopted, before any
    data loads."""
    previous = read_run_record(args.out / RUN_RECORD, "--reports-only")
    missing = [key for key in RECORD_KEYS if key not in previous]
    if missing:
        raise DataError(f"--reports-only: {args.out / RUN_RECORD} lacks {', '.join(missing)} (not a finished run's record)")
    recorded_seed = previous.get("config", {}).get("seed", args.seed)
    if recorded_seed != args.seed:
        raise DataError(f"--seed {args.seed}: {args.out} was trained with --seed {recorded_seed} (its validation "
                        "slice); pass the same value")
    recorded_fraction = previous.get("val_fraction")
    if recorded_fraction is not None and not args.val_split and recorded_fraction != args.val_fraction:
        raise DataError(f"--val-fraction {args.val_fraction}: {args.out} was trained with --val-fraction "
                        f"{recorded_fraction}; pass the same value")
    if "val_split" in previous and previous["val_split"] != args.val_split:
        if args.val_split is not None:
            raise DataError(f"--val-split {args.val_split}: {args.out} was validated on "
                            f"{previous['val_split'] or 'a train slice'}; pass the same value")
        args.val_split = previous["val_split"]
    if args.offsets_from is None and not args.no_tune_bias and previous.get("class_bias_from"):
        args.offsets_from = Path(previous["class_bias_from"])
    if args.init_from is None and previous.get("init_from"):
        args.init_from = Path(previous["init_from"])
    if args.distill_from is None and previous.get("distill_from"):
        args.distill_from = Path(previous["distill_from"])
    if args.soup is None and previous.get("soup_of"):
        args.soup = [Path(run) for run in previous["soup_of"]]
    if args.extra_train_split is None:
        args.extra_train_split = extra_split_of(previous.get("fitted_splits", []))
    return previous


def finished_run(args: argparse.Namespace, previous: dict, command: str) -> tuple[keras.Model, TrainConfig, str, float]:
    """A finished run's model with the offsets of its last report taken out, and the config, command and time its
    run.json recorded, so re-reporting keeps what the training run was."""
    from train.fit import load_checkpoint
    from train.reports import unfold_previous_bias

    model = load_checkpoint(args.out / BEST_CHECKPOINT, "--reports-only")
    unfold_previous_bias(model, args.out)
    config = TrainConfig.from_record(previous["config"]).with_architecture_of(args.out / BEST_CHECKPOINT)
    return model, config, f"{previous['command']}; reports redone by: {command}", float(previous["seconds"])


def distillation_targets(args: argparse.Namespace, train: Split) -> np.ndarray:
    from train.distill import blend_targets, teacher_probabilities

    teacher = teacher_probabilities(args.distill_from, train.x, args.distill_temperature, args.out)
    return blend_targets(train.y, teacher, args.distill_weight)


def soup_members(args: argparse.Namespace) -> list[str]:
    """Check the --soup members before any data loads; the soup is fitted on what they were fitted on."""
    from train.soup import check_members

    resolved = [run.resolve() for run in args.soup]
    if len(set(resolved)) < len(resolved):
        raise DataError("--soup: the same run folder is named twice")
    if args.out.resolve() in resolved:
        raise DataError(f"--out {args.out}: is one of the --soup runs (the soup would overwrite it)")
    fraction = None if args.val_split else args.val_fraction
    fitted = check_members(args.soup, args.seed, fraction, args.val_split)
    extra = extra_split_of(fitted)
    if args.extra_train_split and args.extra_train_split != extra:
        raise DataError(f"--extra-train-split {args.extra_train_split}: the --soup runs were fitted on {fitted}")
    args.extra_train_split = extra
    return fitted


def mix_soup(args: argparse.Namespace, train: Split, started: float) -> tuple[keras.Model, TrainConfig, float]:
    from train.soup import cook

    config = TrainConfig.from_record(read_run_record(args.soup[0] / RUN_RECORD, "--soup").get("config", {}))
    config = config.with_architecture_of(args.soup[0] / BEST_CHECKPOINT)
    return cook(args.soup, train.x), config, time.monotonic() - started


def train_run(args: argparse.Namespace, train: Split, val: Split, start_record: dict,
              started: float) -> tuple[keras.Model, TrainConfig, float]:
    """Train (or resume) the run: its start record, the teacher's targets, then the epochs. Returns the kept
    model, its config and the training seconds of every process that worked on the run."""
    from train.augment import AugmentConfig
    from train.fit import fit
    from train.reports import reopen_finished_run

    config = train_config(args)
    continuing = resuming(args)
    earlier_s = float(read_state(args.out).get("seconds", 0.0)) if continuing else 0.0  # earlier processes
    if continuing:
        reopen_finished_run(args.out)
    if not continuing or FINGERPRINT_KEY not in start_record:  # a fresh run, or one started by an older version
        write_start_record(args, config)
    targets = distillation_targets(args, train) if args.distill_from else None
    held_out = is_held_out(val.name, args.fitted)
    if not held_out and not config.average_last:
        log.warning("%s is also fitted: the epoch it picks as model.keras is not a held-out choice "
                    "(a refit should average its epochs: --average-last)", val.name)
    model = fit(train, val, args.out, config, AugmentConfig(), args.resume, args.init_from, targets, held_out)
    return model, config, earlier_s + time.monotonic() - started


def bad_input(exc: Exception) -> int:
    """A user error as one line on stderr; the exit code of bad input. An OSError names its file first, like
    every other error line (`error: runs/a: File exists`, not `error: [Errno 17] File exists: 'runs/a'`)."""
    named = isinstance(exc, OSError) and exc.filename is not None and exc.strerror
    message = f"{exc.filename}: {exc.strerror}" if named else str(exc)
    print(" ".join(f"error: {message}".split()), file=sys.stderr)
    return EXIT_BAD_INPUT


@dataclass
class Stage:
    """How far a command got, for the line an interruption ends it with."""

    args: argparse.Namespace | None = None
    created: Path | None = None  # the topmost folder make_run_folder created for --out
    reporting: bool = False  # the model is final: the reports are being written


def after_stop(stage: Stage) -> str:
    """What a stopped command kept and how to go on. A folder it created and left empty is removed; a training
    run's folder is resumable at any point (--resume continues from its last finished epoch, writes the reports
    of a run whose training finished, and starts afresh a run with no finished epoch)."""
    args = stage.args
    if args is None:
        return "nothing was written"
    remove_if_left_empty(args.out, stage.created)
    if args.soup or args.reports_only:
        if stage.reporting:
            return f"the reports in {args.out} are incomplete; to write them, run the same command again"
        return "nothing was written"
    if (args.out / STATE_FILE).is_file():
        if stage.reporting:
            return f"{args.out} finished training, not its reports; to write them, run the same command with --resume"
        return f"{args.out} keeps every finished epoch; to go on, run the same command with --resume"
    if args.out.is_dir() and any(args.out.iterdir()):
        return f"{args.out} has no finished epoch yet; to start it again, run the same command"
    return "nothing was written"


def main(argv: list[str] | None = None) -> int:
    """The command; Ctrl-C and SIGTERM end it with one line saying what was kept (exit 130 or 143)."""
    setup_logging()
    stage = Stage()
    with sigterm_stops():
        try:
            return run(argv, stage)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (train.stopping.Stopped)
            log.warning("%s: %s", stop_cause(exc), after_stop(stage))
            return stop_exit_code(exc)


def run(argv: list[str] | None, stage: Stage) -> int:
    started = time.monotonic()
    try:
        args = stage.args = parse_args(argv)
        require_tensorflow()  # before the data loads or --out is made: one line in a venv without it
        start_record = settle_lineage_flags(args)
        check_args(args)
        previous = adopt_run_record(args) if args.reports_only else {}
        members = soup_members(args) if args.soup and not args.reports_only else []
        check_fresh_folder(args)
        args.fitted = union(run_fitted_splits(args, previous.get("fitted_splits")), members,
                            start_record.get("fitted_splits", []))
        check_offsets(args)
        stage.created = make_run_folder(args.out)
        train, val, evaluation = load_checked_data(args, start_record, previous)
    except EdgeError as exc:
        if stage.created is not None:
            remove_if_left_empty(args.out, stage.created)
        print(exc.one_line(), file=sys.stderr)
        return exc.exit_code
    except (DataError, OSError) as exc:
        if stage.created is not None:
            remove_if_left_empty(args.out, stage.created)
        return bad_input(exc)
    log.info("train %d, validation %d (%s), evaluation %s", len(train), len(val), val.name,
             len(evaluation) if evaluation else "none")

    reason = not_held_out_because(evaluation.name, args.fitted, val.name) if evaluation is not None else None
    if reason:
        log.warning("%s: %s (fitted on %s): its figures are not held-out figures", evaluation.name,
                    NOT_HELD_OUT_NOTES[reason], " + ".join(args.fitted))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from train.reports import write_reports  # TensorFlow loads only once the inputs are known to be good

    command = "python -m train " + shlex.join(argv if argv is not None else sys.argv[1:])
    try:
        if args.reports_only:
            model, config, command, seconds = finished_run(args, previous, command)
        elif args.soup:
            model, config, seconds = mix_soup(args, train, started)
        else:
            model, config, seconds = train_run(args, train, val, start_record, started)
    except DataError as exc:  # e.g. a --soup member whose model cannot be loaded
        remove_if_left_empty(args.out, stage.created)
        return bad_input(exc)
    stage.reporting = True
    write_reports(model, args, config, val, evaluation, command, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
