"""The training loop: tf.data input with augmentation and class weights, SGD with warm-up and cosine
schedule, best/last checkpoints with resume, early stopping and per-epoch progress lines."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from edge.interrupts import stops_deferred
from train.augment import AugmentConfig, build_augmenter, mix_batch, random_erase
from train.averaging import AVERAGE_FILE, WeightAverage, is_kept_average, recalibrate_batch_norm
from train.config import (AVERAGE_KEPT, BEST_CHECKPOINT, BEST_PENDING, HISTORY_FILE, LAST_CHECKPOINT, STAGED_PREFIX,
                          STATE_FILE, TrainConfig, read_state, write_text_atomic)
from train.data import DataError, Split
from train.labels import NUM_CLASSES
from train.mirror_symmetric import build_mirror_symmetric_model
from train.model import CONVS_PER_BLOCK, build_model, count_macs
from train.sam import make_sharpness_aware

log = logging.getLogger(__name__)

SHUFFLE_BUFFER = 32768
VALIDATION_BATCH = 256  # un-augmented validation faces per evaluation step (no gradients: larger than training's)
MOMENTUM = 0.9
RESUME_SEED_STRIDE = 1009  # a prime, larger than the seed offsets the augmentation layers add


def class_weights(counts: np.ndarray, power: float) -> np.ndarray:
    """Inverse-frequency weights raised to `power`, scaled so the average sample weight is 1."""
    weights = (counts.max() / np.maximum(counts, 1)) ** power
    return weights / (weights * counts).sum() * counts.sum()


def learning_rate_at(epoch: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to zero at the last epoch or a constant rate (per epoch, so resume
    is exact)."""
    if epoch < config.warmup_epochs:
        return config.learning_rate * (epoch + 1) / (config.warmup_epochs + 1)
    if config.schedule == "constant":
        return config.learning_rate
    progress = (epoch - config.warmup_epochs) / max(1, config.epochs - config.warmup_epochs)
    return 0.5 * config.learning_rate * (1 + math.cos(math.pi * progress))


def data_seed(seed: int, initial_epoch: int) -> int:
    """The seed of the shuffle and augmentation streams. A resumed run must not replay the exact shuffled,
    augmented faces of its first epochs (the network has seen them, and they would be memorised), so the
    stream is re-seeded by the epoch it resumes at; a fresh run (epoch 0) keeps `seed`."""
    return seed + RESUME_SEED_STRIDE * initial_epoch


def make_datasets(train: Split, val: Split, config: TrainConfig, augment: AugmentConfig, seed: int | None = None,
                  targets: np.ndarray | None = None) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Shuffled, augmented training batches of (faces, target rows, class weights) and validation batches.

    `targets` replaces the one-hot training labels with soft rows (distillation); class weights still follow
    the hard labels."""
    seed = config.seed if seed is None else seed
    rows = tf.one_hot(train.y, NUM_CLASSES) if targets is None else tf.constant(targets, tf.float32)
    weights = class_weights(train.class_counts(), config.class_weight_power).astype("float32")
    augmenter = build_augmenter(augment, seed)

    def augment_batch(x: tf.Tensor, y: tf.Tensor, w: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        x = augmenter(tf.cast(x, tf.float32), training=True)
        x = random_erase(x, augment.erase_probability, augment.erase_max_fraction)
        if config.mixup > 0:
            x, y, w = mix_batch(x, y, w, config.mixup)
        return x, y, w

    train_ds = (
        tf.data.Dataset.from_tensor_slices(
            (train.x, rows, weights[train.y])
        )
        .shuffle(min(SHUFFLE_BUFFER, len(train)), seed=seed, reshuffle_each_iteration=True)
        .batch(config.batch_size, drop_remainder=True)
        .map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = (
        tf.data.Dataset.from_tensor_slices((val.x.astype("float32"), tf.one_hot(val.y, NUM_CLASSES)))
        .batch(VALIDATION_BATCH)
        .prefetch(tf.data.AUTOTUNE)
    )
    return train_ds, val_ds


class Progress(keras.callbacks.Callback):
    """One log line per epoch: time, loss, accuracy, validation figures, learning rate and ETA."""

    def __init__(self, total_epochs: int) -> None:
        super().__init__()
        self.total_epochs = total_epochs
        self.started = 0.0
        self.epoch_started = 0.0
        self.first_epoch: int | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = time.monotonic()
        if self.first_epoch is None:
            self.first_epoch, self.started = epoch, self.epoch_started

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        now = time.monotonic()
        per_epoch = (now - self.started) / (epoch - self.first_epoch + 1)
        eta_min = per_epoch * (self.total_epochs - epoch - 1) / 60
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        log.info(
            "epoch %d/%d %.0fs loss %.4f acc %.4f val_loss %.4f val_acc %.4f lr %.4g ETA %.0f min",
            epoch + 1, self.total_epochs, now - self.epoch_started, logs.get("loss", float("nan")),
            logs.get("accuracy", float("nan")), logs.get("val_loss", float("nan")),
            logs.get("val_accuracy", float("nan")), lr, eta_min,
        )


def save_model(model: keras.Model, path: Path) -> None:
    """model.save writes into the file in place: a kill or a full disk during the save would leave a truncated
    checkpoint that --resume (or convert) cannot read. Save beside it, then rename over it (atomic)."""
    staged = path.with_name(STAGED_PREFIX + path.name)  # still ends in .keras, as Keras requires
    try:
        model.save(staged)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    staged.replace(path)


def trim_history(path: Path, last_epoch: int) -> None:
    """Drop history rows after `last_epoch`: the row of an epoch is written before its resume state, so an
    interruption between the two would list that epoch twice once it is trained again."""
    lines = path.read_text().splitlines(keepends=True) if path.is_file() else []
    if not lines:
        return
    header, *rows = lines
    kept = [row for row in rows if int(row.partition(",")[0]) <= last_epoch]  # CSVLogger: the epoch comes first
    if len(kept) < len(rows):
        log.info("%s: dropped %d row(s) of epochs after the resume point", path.name, len(rows) - len(kept))
        write_text_atomic(path, header + "".join(kept))


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Early stopping whose patience survives --resume: Keras resets its counter and best score when training
    starts, so a resumed run would otherwise wait `patience` epochs afresh."""

    def __init__(self, patience: int, wait: int = 0, best: float | None = None) -> None:
        super().__init__(monitor="val_accuracy", mode="max", patience=patience)
        self.resumed_wait, self.resumed_best = wait, best

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.wait = self.resumed_wait
        if self.resumed_best:
            self.best = self.resumed_best


class ResumeState(keras.callbacks.Callback):
    """After every epoch: the last checkpoint and the resume state for --resume (the epoch, the best validation
    accuracy, early stopping's count and whether it stopped the run, and the training time so far over every
    resumed process: `seconds`, `earlier_s` of them before this one, each process counted from its start
    (`process_started`, so its data loading counts too) to its last epoch's end, so run.json can give a resumed
    run's whole wall time); then the best checkpoint (model.keras) when the epoch beat the best so far (`best`: of the
    epochs before a resume).

    The resume state is saved first: a run stopped during its first epoch's saves has either nothing to resume
    (and --resume starts it afresh) or a state to resume from. Until model.keras is saved the state marks it
    pending (BEST_PENDING), and a resume saves it from last.keras, which holds that epoch's weights. A Ctrl-C or
    SIGTERM during the saves takes effect once they are all done. The state says model.keras holds an epoch
    (AVERAGE_KEPT false): one that holds a kept weight average is replaced by the first epoch (see fit)."""

    def __init__(self, out_dir: Path, best: float | None, early: ResumableEarlyStopping,
                 earlier_s: float = 0.0, process_started: float | None = None) -> None:
        super().__init__()
        self.out_dir = out_dir
        self.best = best or None  # None: no epoch yet, the first one is the best
        self.early = early
        self.earlier_s = earlier_s
        self.started = time.monotonic() if process_started is None else process_started

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get("val_accuracy")
        improved = value is not None and (self.best is None or float(value) > self.best)
        if improved:
            self.best = float(value)
        with stops_deferred():
            save_model(self.model, self.out_dir / LAST_CHECKPOINT)
            self.write_state(epoch, best_pending=improved)
            if improved:
                save_model(self.model, self.out_dir / BEST_CHECKPOINT)
                self.write_state(epoch, best_pending=False)

    def write_state(self, epoch: int, best_pending: bool) -> None:
        state = {"epoch": epoch, "best_val_accuracy": self.best or 0.0, "patience_used": int(self.early.wait),
                 "stopped_early": bool(self.model.stop_training),
                 "seconds": round(self.earlier_s + time.monotonic() - self.started, 1), AVERAGE_KEPT: False}
        if best_pending:
            state[BEST_PENDING] = True
        write_text_atomic(self.out_dir / STATE_FILE, json.dumps(state))


def save_pending_best(model: keras.Model, out_dir: Path, state: dict) -> None:
    """A run stopped between its resume state and the best checkpoint of an epoch that beat the best: that
    epoch is the checkpoint `model` was loaded from, so model.keras is saved from it (and the mark cleared)."""
    if not state.pop(BEST_PENDING, False):
        return
    save_model(model, out_dir / BEST_CHECKPOINT)
    write_text_atomic(out_dir / STATE_FILE, json.dumps(state))
    log.info("%s saved from %s: epoch %d was the best, and its save had not finished", BEST_CHECKPOINT,
             LAST_CHECKPOINT, state["epoch"] + 1)


def holds_kept_average(out_dir: Path, state: dict) -> bool:
    """Whether the model.keras of a run being resumed holds the weight average its end kept rather than one of
    its epochs: as its state says (AVERAGE_KEPT), or for a state of an older version, which did not say, as
    model.keras itself shows (compared with the saved mean)."""
    if AVERAGE_KEPT in state:
        return bool(state[AVERAGE_KEPT])
    if not (out_dir / AVERAGE_FILE).is_file():
        return False
    return is_kept_average(load_checkpoint(out_dir / BEST_CHECKPOINT, "--resume"), out_dir)


def _compile(model: keras.Model, config: TrainConfig) -> None:
    model.compile(
        optimizer=keras.optimizers.SGD(
            learning_rate=config.learning_rate, momentum=MOMENTUM, nesterov=True, weight_decay=config.weight_decay
        ),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
    )


def load_checkpoint(path: Path, flag: str) -> keras.Model:
    try:
        return keras.models.load_model(path)
    except (ValueError, OSError) as exc:
        raise DataError(f"{flag} {path}: not a readable Keras model ({' '.join(str(exc).split())[:200]})") from None


def build_configured_model(config: TrainConfig) -> keras.Model:
    """A fresh net of the config's architecture (train.model's, or its mirror-symmetric version)."""
    if config.symmetry == "mirror":
        if config.pooling != "average" or config.last_block_convs != CONVS_PER_BLOCK:  # train.cli refuses these
            raise ValueError(f"symmetry mirror with pooling {config.pooling}, {config.last_block_convs} convs")
        return build_mirror_symmetric_model(config.width, config.dense_units, config.dropout, config.early_width)
    return build_model(config.width, config.dense_units, config.dropout, config.pooling, config.early_width,
                       config.last_block_convs)


def prepare_model(
    out_dir: Path, config: TrainConfig, resume: bool, init_from: Path | None = None
) -> tuple[keras.Model, int, dict]:
    """A fresh compiled model, or the last checkpoint with its next epoch and saved state when resuming (a run
    early stopping ended resumes at its last epoch, so it trains no further).

    `init_from` starts a new schedule from another run's weights (a warm restart): the architecture comes from
    that checkpoint, the optimizer and learning-rate cycle start afresh."""
    if resume and (out_dir / STATE_FILE).is_file() and (out_dir / LAST_CHECKPOINT).is_file():
        state = read_state(out_dir)
        model = load_checkpoint(out_dir / LAST_CHECKPOINT, "--resume")
        log.info("resuming after epoch %d (best val_accuracy %.4f)", state["epoch"] + 1, state["best_val_accuracy"])
        save_pending_best(model, out_dir, state)
        if state.get("stopped_early"):
            log.info("early stopping ended this run after epoch %d: nothing left to train", state["epoch"] + 1)
            return model, config.epochs, state
        return model, state["epoch"] + 1, state
    if resume:
        log.info("nothing to resume in %s; starting fresh", out_dir)
    (out_dir / AVERAGE_FILE).unlink(missing_ok=True)  # a mean left by another run must not join this one's
    if init_from is not None:
        model = load_checkpoint(init_from, "--init-from")
        log.info("warm start from %s", init_from)
        _compile(model, config)
        return model, 0, {}
    model = build_configured_model(config)
    _compile(model, config)
    return model, 0, {}


def fit(
    train: Split, val: Split, out_dir: Path, config: TrainConfig, augment: AugmentConfig, resume: bool,
    init_from: Path | None = None, targets: np.ndarray | None = None, validation_held_out: bool = True,
    process_started: float | None = None,
) -> keras.Model:
    """Train, and return the best model by validation accuracy (also saved as model.keras). `targets` are
    soft training rows (see train.distill) in place of one-hot labels. When the validation split is also
    fitted (`validation_held_out` false: a refit on every labelled face), it cannot choose between epochs, so
    the weight average of --average-last is the model whatever it scores there."""
    keras.utils.set_random_seed(config.seed)
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model, initial_epoch, state = prepare_model(out_dir, config, resume, init_from)
    if config.sam_rho > 0:
        make_sharpness_aware(model, config.sam_rho)
        log.info("sharpness-aware steps: each update uses the gradient at the weights moved %.3g up the batch's "
                 "gradient", config.sam_rho)
    best = float(state.get("best_val_accuracy", 0.0))
    if state and not (out_dir / BEST_CHECKPOINT).is_file():
        log.warning("%s is missing: the best epoch is chosen among the epochs still to train", BEST_CHECKPOINT)
        best = 0.0
    elif state and holds_kept_average(out_dir, state):  # the best epoch's weights are gone: it cannot be kept
        log.info("%s holds the weight average the run kept, not one of its epochs: the model is chosen again among "
                 "the epochs still to train and the weight average", BEST_CHECKPOINT)
        best = 0.0
    seed = data_seed(config.seed, initial_epoch)
    if seed != config.seed:
        keras.utils.set_random_seed(seed)
    log.info("model %s: %d params, %.1f M MACs per face", model.name, model.count_params(), count_macs(model) / 1e6)
    log.info("training config: %s", json.dumps(asdict(config)))
    train_ds, val_ds = make_datasets(train, val, config, augment, seed, targets)
    if initial_epoch > 0:
        trim_history(out_dir / HISTORY_FILE, initial_epoch - 1)
    average = None
    if config.average_last:
        average = WeightAverage(out_dir, config.epochs - config.average_last)
        if state:
            average.resume(model, state["epoch"])
    early = ResumableEarlyStopping(config.patience, int(state.get("patience_used", 0)), best or None)
    checkpoints = ResumeState(out_dir, best, early, float(state.get("seconds", 0.0)), process_started)
    callbacks = [  # the resume state is saved before the average, which can catch up one epoch from it
        keras.callbacks.LearningRateScheduler(lambda epoch: learning_rate_at(epoch, config)),
        early,  # before the resume state, which records whether it stopped the run
        keras.callbacks.CSVLogger(out_dir / HISTORY_FILE, append=initial_epoch > 0),
        checkpoints,
        *([average] if average else []),
        Progress(config.epochs),  # after the saves: an epoch whose line is printed is kept, whatever stops the run
    ]
    if initial_epoch < config.epochs:
        model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, initial_epoch=initial_epoch,
                  callbacks=callbacks, verbose=0, shuffle=False)  # the dataset shuffles itself (Keras warns otherwise)
    if average is not None:
        keep_average_if_better(model, average, train, val_ds, out_dir, checkpoints.best, validation_held_out)
    return keras.models.load_model(out_dir / BEST_CHECKPOINT)


def keep_average_if_better(model: keras.Model, average: WeightAverage, train: Split, val_ds: tf.data.Dataset,
                           out_dir: Path, best: float | None, held_out: bool = True) -> None:
    """Evaluate the averaged weights (after batch-norm recalibration on the un-augmented training faces) and
    make them the run's model when they beat the best single epoch (model.keras) on validation accuracy, or
    always when the validation split is fitted (not `held_out`) or no epoch is in model.keras (`best` None: a
    resumed run whose model.keras held an average, with no epoch left to train). The resume state records
    which one model.keras holds (AVERAGE_KEPT), before it is saved."""
    if not average.apply(model):
        return
    recalibrate_batch_norm(model, train.x)
    accuracy = float(model.evaluate(val_ds, verbose=0, return_dict=True)["accuracy"])
    keep = not held_out or best is None or accuracy > best
    if not held_out:
        log.info("weight average of %d epochs: val_accuracy %.4f (validation is fitted): kept", average.count,
                 accuracy)
    elif best is None:
        log.info("weight average of %d epochs: val_accuracy %.4f (no epoch to compare with): kept", average.count,
                 accuracy)
    else:
        log.info("weight average of %d epochs: val_accuracy %.4f vs best epoch %.4f: %s", average.count,
                 accuracy, best, "kept" if keep else "not kept")
    with stops_deferred():
        state = read_state(out_dir)
        if state.get(AVERAGE_KEPT) != keep:
            write_text_atomic(out_dir / STATE_FILE, json.dumps({**state, AVERAGE_KEPT: keep}))
        if keep:
            save_model(model, out_dir / BEST_CHECKPOINT)
