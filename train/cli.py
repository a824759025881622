"""The command line of `python -m train`: its flags, and every check of their values that can be made before
TensorFlow loads (train.__main__ runs the command). Each failure is a DataError naming its flag, which the entry
point prints as one line `error: ...` with exit code 2.

No TensorFlow here: `--mixed-precision auto` is resolved by the entry point (it probes the training device) and
handed to config_from_flags."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from edge.cli_common import OneLineParser, non_negative_int, path_argument
from train.config import (ARCHITECTURE_FIELDS, BEST_CHECKPOINT, LAST_CHECKPOINT, POOLINGS, RUN_RECORD, STATE_FILE,
                          SYMMETRIES, TrainConfig, keras_archive_problem, read_state)
from train.data import (DEFAULT_CACHE_DIR, DEFAULT_VAL_FRACTION, TRAIN_SLICE, DataError, Split, extra_split_of,
                        is_held_out)
from train.labels import EMOTIONS
from train.runfolder import (DEFAULT_DISTILL_WEIGHT, TEACHER_FLAGS, adopt_architecture, read_run_record, resuming,
                             same_file)
from train.runfolder import flag_name as flag

DESCRIPTION = ("python -m train --data ../shared/datasets/fer2013 --out runs/<name>: fit the model and write every "
               "report.")
RECORD_KEYS = ("config", "command", "seconds")  # what --reports-only keeps from a finished run's run.json
FLOAT_FLAGS = ("lr", "weight_decay", "label_smoothing", "class_weight_power", "dropout", "mixup", "distill_weight",
               "distill_temperature", "val_fraction", "sam")
POSITIVE_FLAGS = ("epochs", "batch_size", "width", "early_width", "dense_units", "last_block_convs")
NON_NEGATIVE_FLAGS = ("patience", "warmup_epochs", "weight_decay", "class_weight_power")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = TrainConfig()
    parser = OneLineParser(prog="python -m train", description=DESCRIPTION)
    parser.add_argument("--data", type=path_argument, required=True, help="image-folder dataset or fer2013.csv")
    parser.add_argument("--out", type=path_argument, required=True, help="run folder for checkpoints and reports")
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
    parser.add_argument("--symmetry", choices=SYMMETRIES,
                        help="'mirror': every layer's channels in mirror pairs, so a face and its mirror image get "
                             "the same answer at one pass's cost (half the free weights; default none; with "
                             "--init-from, the checkpoint's)")
    parser.add_argument("--mixup", type=float, default=defaults.mixup,
                        help="mixup Beta(alpha, alpha): blend training faces and labels pairwise (0 = off; try 0.2)")
    parser.add_argument("--sam", type=float, default=defaults.sam_rho, metavar="RHO",
                        help="sharpness-aware steps: climb RHO along the gradient before each update (0 = off; "
                             "try 0.05; twice the cost per step)")
    parser.add_argument("--distill-from", type=path_argument, metavar="RUN",
                        help="finished run folder whose mirror-averaged predictions become soft training targets")
    parser.add_argument("--distill-weight", type=float,
                        help=f"share of the teacher's targets in each training row (with --distill-from; default "
                             f"{DEFAULT_DISTILL_WEIGHT})")
    parser.add_argument("--distill-temperature", type=float,
                        help=f"softens the teacher's logits before they become targets (with --distill-from; "
                             f"default {defaults.distill_temperature})")
    parser.add_argument("--patience", type=int, default=defaults.patience, help="early-stopping epochs")
    parser.add_argument("--seed", type=non_negative_int,
                        help=f"seed of the validation slice, data order and initial weights (default {defaults.seed}; "
                             "with --resume, the run's)")
    parser.add_argument("--mixed-precision", choices=("auto", "on", "off"), default="auto",
                        help="bfloat16 mixed precision; auto = on where the device that trains runs bf16 natively "
                             "(a GPU of compute capability 8.0 or newer; without a GPU, a CPU with bf16 instructions)")
    parser.add_argument("--soup", type=path_argument, nargs="+", metavar="RUN",
                        help="instead of training: mix these finished runs (same start, same --seed) into one model "
                             "whose weights are their mean, batch norm recomputed, then report it like a run")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    parser.add_argument("--init-from", type=path_argument,
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
    parser.add_argument("--offsets-from", type=path_argument, metavar="RUN",
                        help="fold in the class offsets this finished run tuned instead of tuning (for a refit on "
                             "every labelled face, which leaves no held-out slice to tune on)")
    parser.add_argument("--reports-only", action="store_true",
                        help="no training: re-tune the offsets and rewrite the reports of a finished run")
    parser.add_argument("--limit", type=int,
                        help="use only N random training images (smoke runs; default 0: all; with --resume or "
                             "--reports-only, the run's)")
    parser.add_argument("--strict", action="store_true", help="fail on the first unreadable image or CSV row")
    parser.add_argument("--cache-dir", type=path_argument, default=DEFAULT_CACHE_DIR, help="decoded-array cache")
    return parser.parse_args(argv)


def config_from_flags(args: argparse.Namespace, mixed_precision: bool) -> TrainConfig:
    """The run's TrainConfig from its flags, with `--mixed-precision` already resolved to on or off."""
    values = {
        "epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.lr,
        "warmup_epochs": args.warmup_epochs, "weight_decay": args.weight_decay,
        "label_smoothing": args.label_smoothing, "class_weight_power": args.class_weight_power,
        **{name: getattr(args, name) for name in ARCHITECTURE_FIELDS if getattr(args, name) is not None},
        "patience": args.patience, "seed": args.seed, "schedule": args.schedule,
        "average_last": args.average_last, "mixup": args.mixup, "mixed_precision": mixed_precision,
        "distill_weight": args.distill_weight if args.distill_from else 0.0,
        "distill_temperature": args.distill_temperature, "sam_rho": args.sam,
    }
    return TrainConfig(**values)


def check_args(args: argparse.Namespace) -> None:
    """Every value check that needs no data, each failure naming its flag (before TensorFlow loads)."""
    if args.reports_only and args.resume:
        raise DataError("--resume: --reports-only trains nothing, it redoes a finished run's reports; drop --resume")
    check_ranges(args)
    check_named_inputs(args)
    continuing = resuming(args)  # then the weights and the architecture come from last.keras, not --init-from
    if args.init_from is not None and not continuing and not args.init_from.is_file():
        raise DataError(f"--init-from {args.init_from}: no such checkpoint file")
    check_checkpoints(args)
    if args.init_from is not None and not continuing:
        adopt_architecture(args, args.init_from, "--init-from")
    if args.soup and (args.resume or args.init_from or args.distill_from):
        raise DataError("--soup: mixes finished runs; it cannot be combined with --resume, --init-from or "
                        "--distill-from")


def check_ranges(args: argparse.Namespace) -> None:
    """The numbers: each within its range and finite."""
    for name in POSITIVE_FLAGS:
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise DataError(f"{flag(name)} {getattr(args, name)}: must be positive")
    for name in NON_NEGATIVE_FLAGS:
        if getattr(args, name) < 0:
            raise DataError(f"{flag(name)} {getattr(args, name)}: must be 0 or positive")
    if args.limit < 0:
        raise DataError(f"--limit {args.limit}: must be 0 (all images) or positive")
    fresh = args.init_from is None and not args.resume  # else the width is the checkpoint's
    if fresh and args.early_width is not None and args.early_width > (args.width or TrainConfig.width):
        raise DataError(f"--early-width {args.early_width}: narrows blocks 1-2, so at most --width "
                        f"({args.width or TrainConfig.width})")
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
    if args.symmetry == "mirror":
        check_mirror_symmetric(args)


def check_mirror_symmetric(args: argparse.Namespace) -> None:
    """--symmetry mirror pairs every layer's channels, with the plain net's average pooling and block depth."""
    if args.pooling not in (None, "average"):
        raise DataError(f"--pooling {args.pooling}: --symmetry mirror is built with average pooling only")
    if args.last_block_convs not in (None, TrainConfig.last_block_convs):
        raise DataError(f"--last-block-convs {args.last_block_convs}: --symmetry mirror is built with "
                        f"{TrainConfig.last_block_convs} convs per block only")
    for name in ("width", "early_width", "dense_units"):
        if getattr(args, name) is not None and getattr(args, name) % 2:
            raise DataError(f"{flag(name)} {getattr(args, name)}: --symmetry mirror needs an even number "
                            "(channels come in mirror pairs)")


def check_named_inputs(args: argparse.Namespace) -> None:
    """The split and the run folders the flags name, then --distill-from's own numbers (after its folder, as the
    checks always ran: with several mistakes, the same one is reported first). The teacher's weight and temperature
    are None until here, so that one given without a teacher is told from one left out; their defaults are filled
    in last."""
    if args.extra_train_split and args.extra_train_split.lower() in ("train", TRAIN_SLICE):
        raise DataError(f"--extra-train-split {args.extra_train_split}: already fitted (name another split, "
                        "e.g. test)")
    for name in (BEST_CHECKPOINT, RUN_RECORD):
        if args.reports_only and not (args.out / name).is_file():
            raise DataError(f"--reports-only: {args.out / name} not found (is the run finished?)")
    if args.distill_from is not None and not (args.distill_from / BEST_CHECKPOINT).is_file():
        raise DataError(f"--distill-from {args.distill_from}: not a finished run folder (no {BEST_CHECKPOINT})")
    if args.distill_weight is not None and not 0.0 < args.distill_weight <= 1.0:
        raise DataError(f"--distill-weight {args.distill_weight}: must be in (0, 1]")
    if args.distill_temperature is not None and args.distill_temperature <= 0:
        raise DataError(f"--distill-temperature {args.distill_temperature}: must be positive")
    for name in TEACHER_FLAGS:  # each would be silently ignored
        given = getattr(args, name)
        if given is not None and (args.soup or args.reports_only):
            raise DataError(f"{flag(name)} {given}: {'--soup' if args.soup else '--reports-only'} trains nothing, "
                            "so it has no effect; drop it")
        if given is not None and args.distill_from is None:
            raise DataError(f"{flag(name)} {given}: only with --distill-from RUN (the teacher whose predictions it "
                            "shapes)")
    if args.distill_weight is None:
        args.distill_weight = DEFAULT_DISTILL_WEIGHT
    if args.distill_temperature is None:
        args.distill_temperature = TrainConfig.distill_temperature


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
        if args.limit:
            left = f" left after --limit {args.limit}" + ("" if args.val_split else (
                f" and the validation slice (--val-fraction {args.val_fraction})"))
        else:
            left = "" if args.val_split else (f" left after the validation slice (--val-fraction {args.val_fraction}; "
                                              "a smaller one leaves more)")
        raise DataError(f"--batch-size {args.batch_size}: larger than the {len(train)} training faces{left} "
                        "(every batch must be full)")


def adopt_run_record(args: argparse.Namespace) -> dict:
    """--reports-only: the finished run's run.json, checked against the flags that pick the validation slice (a
    different slice would re-tune and judge on faces the run trained on) and its lineage adopted, before any
    data loads."""
    previous = read_run_record(args.out / RUN_RECORD, "--reports-only")
    missing = [key for key in RECORD_KEYS if key not in previous]
    if missing:
        raise DataError(f"--reports-only: {args.out / RUN_RECORD} lacks {', '.join(missing)} (not a finished run's "
                        "record)")
    check_slice_flags(args, previous)
    adopt_lineage(args, previous)
    return previous


def check_slice_flags(args: argparse.Namespace, previous: dict) -> None:
    """--seed, --val-fraction and --val-split as the finished run cut its validation slice, and --limit as it
    sampled its training faces; --val-split left out is the run's."""
    recorded_limit = previous.get("limit") or 0
    if args.limit != recorded_limit:
        raise DataError(f"--limit {args.limit}: {args.out} was trained on "
                        f"{f'--limit {recorded_limit} faces' if recorded_limit else 'every training face'}; pass the "
                        "same value or leave it out")
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


LINEAGE_RECORD = (("init_from", "init_from"), ("distill_from", "distill_from"), ("soup", "soup_of"))  # flag, key


def as_paths(value: str | Path | list | None) -> list[Path]:
    """A lineage flag's or run.json value's paths: none, one (--init-from, --distill-from) or several (--soup)."""
    if value is None:
        return []
    return [Path(item) for item in value] if isinstance(value, list) else [Path(value)]


def adopt_lineage(args: argparse.Namespace, previous: dict) -> None:
    """The lineage flags left out are the finished run's: what it started from, learned from and was fitted on.
    Given, they must say what the run.json records: the reports describe the run, and a flag naming another
    checkpoint, teacher, soup or fitted split would write a false lineage into run.json, the model card and any
    sidecar converted from it. A key an older run.json lacks is not known, so the flag is taken as given."""
    if args.offsets_from is None and not args.no_tune_bias and previous.get("class_bias_from"):
        args.offsets_from = Path(previous["class_bias_from"])
    for name, key in LINEAGE_RECORD:
        recorded, given = as_paths(previous.get(key)), as_paths(getattr(args, name))
        if not given:
            if recorded:
                setattr(args, name, recorded if name == "soup" else recorded[0])
        elif key in previous and not (len(given) == len(recorded) and all(map(same_file, given, recorded))):
            was = f"made with {flag(name)} {' '.join(map(str, recorded))}" if recorded else f"made without {flag(name)}"
            raise DataError(f"{flag(name)} {' '.join(map(str, given))}: {args.out} was {was} (its run.json); "
                            "--reports-only keeps the run's lineage, so leave the flag out")
    fitted = previous.get("fitted_splits")
    recorded_extra = extra_split_of(fitted or [])
    if args.extra_train_split is None:
        args.extra_train_split = recorded_extra
    elif fitted is not None and (recorded_extra or "").lower() != args.extra_train_split.lower():
        raise DataError(f"--extra-train-split {args.extra_train_split}: {args.out} was fitted on "
                        f"{' + '.join(fitted) or 'train'} (its run.json); --reports-only keeps the faces the run was "
                        "fitted on, so leave the flag out")
