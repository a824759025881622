"""python -m train --data ../shared/datasets/fer2013 --out runs/<name>: fit the model and write every report.

The run itself: load the data, train (or resume, mix a soup, redo the reports), report, and end a stopped run with
one line saying what was kept. The flags and their checks are train.cli's; parse_args, check_args and
check_training_set stay importable from here.

A Ctrl-C while this module's own imports load (numpy, PIL, the train modules) ends the command as `python -m edge`
and `python -m convert` do: one line on stderr, exit code 130, no traceback (edge.interrupts). TensorFlow loads
later, inside main(), whose handler covers it."""

from __future__ import annotations

import sys

from edge.interrupts import interrupted  # standard library only: importable before everything it guards

try:  # numpy, PIL and the train modules take a while to import: a Ctrl-C meanwhile is one line, exit 130, too
    import argparse
    import logging
    import shlex
    import time
    from dataclasses import dataclass
    from pathlib import Path
    from typing import TYPE_CHECKING

    import numpy as np

    from edge.cli_common import setup_logging
    from edge.errors import EdgeError
    from train.cli import (adopt_run_record, check_args, check_offsets, check_training_set, config_from_flags,
                           parse_args)
    from train.config import BEST_CHECKPOINT, RUN_RECORD, STATE_FILE, TrainConfig, read_state
    from train.data import (NOT_HELD_OUT_NOTES, DataError, Split, extra_split_of, faces_fingerprint, is_held_out,
                            load_split, not_held_out_because, stratified_holdout, union)
    from train.environment import load_tensorflow, require_tensorflow
    from train.lineage import run_fitted_splits
    from train.runfolder import (FINGERPRINT_KEY, check_fresh_folder, check_validation_faces, make_run_folder,
                                 read_run_record, recorded_fingerprints, remove_if_left_empty, resuming,
                                 settle_lineage_flags, write_start_record)
    from train.stopping import sigterm_stops, stop_cause, stop_exit_code
except KeyboardInterrupt:
    sys.exit(interrupted())

if TYPE_CHECKING:
    import keras

# Under `python -m train` __name__ is "__main__"; the spec's name keeps the records named train.__main__.
log = logging.getLogger(__spec__.name if __spec__ is not None else __name__)

EXIT_BAD_INPUT = 2
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
BF16_GPU_CAPABILITY = (8, 0)  # Ampere: the first NVIDIA GPUs with bf16 tensor cores


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


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The run's TrainConfig: its flags (train.cli), with `--mixed-precision auto` resolved on this machine."""
    mixed = auto_mixed_precision() if args.mixed_precision == "auto" else args.mixed_precision == "on"
    return config_from_flags(args, mixed)


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


def train_run(args: argparse.Namespace, train: Split, val: Split, start_record: dict, started: float,
              command: str) -> tuple[keras.Model, TrainConfig, str, float]:
    """Train (or resume) the run: its start record, the teacher's targets, then the epochs. Returns the kept
    model, its config, the command for run.json (a resume's after the one that started the run) and the seconds
    of every process that worked on the run."""
    from train.augment import AugmentConfig
    from train.fit import fit
    from train.reports import reopen_finished_run

    config = train_config(args)
    continuing = resuming(args)
    earlier_s = float(read_state(args.out).get("seconds", 0.0)) if continuing else 0.0  # earlier processes
    if continuing:
        reopen_finished_run(args.out)
    if not continuing or FINGERPRINT_KEY not in start_record:  # a fresh run, or one started by an older version
        write_start_record(args, config, None if continuing else command)
    if continuing:  # a start.json from before it kept the command cannot say what started the run
        command = f"{start_record.get('command') or '(start command not recorded)'}; resumed by: {command}"
    targets = distillation_targets(args, train) if args.distill_from else None
    held_out = is_held_out(val.name, args.fitted)
    if not held_out and not config.average_last:
        log.warning("%s is also fitted: the epoch it picks as model.keras is not a held-out choice "
                    "(a refit should average its epochs: --average-last)", val.name)
    model = fit(train, val, args.out, config, AugmentConfig(), args.resume, args.init_from, targets, held_out,
                started)
    return model, config, command, earlier_s + time.monotonic() - started


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
    load_tensorflow()  # only once the inputs are known to be good
    from train.reports import write_reports

    command = "python -m train " + shlex.join(argv if argv is not None else sys.argv[1:])
    try:
        if args.reports_only:
            model, config, command, seconds = finished_run(args, previous, command)
        elif args.soup:
            model, config, seconds = mix_soup(args, train, started)
        else:
            model, config, command, seconds = train_run(args, train, val, start_record, started, command)
    except DataError as exc:  # e.g. a --soup member whose model cannot be loaded
        remove_if_left_empty(args.out, stage.created)
        return bad_input(exc)
    stage.reporting = True
    write_reports(model, args, config, val, evaluation, command, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
