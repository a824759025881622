"""Stochastic weight averaging: the mean of the weights at the end of the last epochs of a run, with
batch-norm statistics recomputed for the averaged weights (the averaged moving statistics do not match them).

The running mean is saved after every epoch it covers, with the first and last epoch it holds, so `--resume`
keeps it when it lies within the resumed schedule's window (and only a resumed run reads it: a fresh run in the
same folder starts a new mean)."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

log = logging.getLogger(__name__)

AVERAGE_FILE = "average.npz"
WEIGHT_PREFIX = "w"  # average.npz holds count, first_epoch, last_epoch and w0, w1, ... (one array per weight)
RECALIBRATION_BATCH = 256
BATCH_NORM_STATISTICS = ("moving_mean", "moving_variance")  # the weights recalibrate_batch_norm recomputes
OFFSET_VARIABLE = "bias"  # the logits' bias, which class offsets move (the other layers have none)


def epoch_span(first: int, last: int) -> str:
    """Epochs `first`..`last` (0-based) as the log lines number them (from 1)."""
    return f"epoch {first + 1}" if first == last else f"epochs {first + 1}-{last + 1}"


class WeightAverage(keras.callbacks.Callback):
    """Running mean of the model's floating-point weights at the end of each epoch from `first_epoch` on (the
    last --average-last epochs of the schedule)."""

    def __init__(self, out_dir: Path, first_epoch: int) -> None:
        super().__init__()
        self.path = out_dir / AVERAGE_FILE
        self.first_epoch = first_epoch
        self.mean: list[np.ndarray] | None = None
        self.count = 0
        self.first_averaged = first_epoch  # the first epoch the mean holds
        self.last_epoch = first_epoch - 1  # nothing averaged yet

    def resume(self, model: keras.Model, last_epoch: int) -> None:
        """Continue the mean saved by a run whose last finished epoch is `last_epoch` (its weights: `model`).

        Only epochs of this schedule's window (from `first_epoch` on) may be in the mean: a resume may change
        --epochs or --average-last, so a saved mean that holds an epoch before the window (or after
        `last_epoch`, to be trained again) is dropped; one within it is kept. The resume state is saved before
        the mean, so the mean may lack the checkpoint's epoch: it is added from `model`. Epochs of the window
        between the two (trained before the window reached them) cannot be added any more: their weights are
        gone, and the mean covers fewer epochs (logged)."""
        self._load(last_epoch)
        if self.mean is not None and (self.first_averaged < self.first_epoch or self.last_epoch > last_epoch):
            log.info("weight average of %s dropped: this schedule averages from epoch %d on",
                     epoch_span(self.first_averaged, self.last_epoch), self.first_epoch + 1)
            self._reset()
        elif self.mean is not None:
            log.info("weight average resumed with %d epochs (%s)", self.count,
                     epoch_span(self.first_averaged, self.last_epoch))
            if self.first_averaged > self.first_epoch:
                log.warning("weight average: %s of the window finished before the mean started (their weights are "
                            "gone), so it covers fewer epochs", epoch_span(self.first_epoch, self.first_averaged - 1))
        if last_epoch < self.first_epoch or self.last_epoch == last_epoch:
            return
        lost_from = max(self.first_epoch, self.last_epoch + 1)
        if lost_from < last_epoch:
            log.warning("weight average: %s of the window finished before the mean reached them (their weights "
                        "are gone), so it covers fewer epochs", epoch_span(lost_from, last_epoch - 1))
        self.add(model, last_epoch)
        log.info("weight average caught up with epoch %d", last_epoch + 1)

    def _load(self, last_epoch: int) -> None:
        """The saved mean; a file of a version that did not record its epochs is taken to end at the resumed run's
        `last_epoch` and to hold the `count` epochs up to it."""
        if not self.path.is_file():
            return
        with np.load(self.path) as saved:
            self.count = int(saved["count"])
            self.last_epoch = int(saved["last_epoch"]) if "last_epoch" in saved.files else last_epoch
            first = saved["first_epoch"] if "first_epoch" in saved.files else self.last_epoch - self.count + 1
            self.first_averaged = int(first)
            self.mean = saved_weights(saved)

    def _reset(self) -> None:
        """Forget the mean (the file is replaced at the first epoch averaged: until then a resume with the
        earlier flags still finds it)."""
        self.mean, self.count = None, 0
        self.first_averaged, self.last_epoch = self.first_epoch, self.first_epoch - 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch >= self.first_epoch:
            self.add(self.model, epoch)

    def add(self, model: keras.Model, epoch: int) -> None:
        weights = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
        self.count += 1
        if self.mean is None:
            self.mean, self.first_averaged = weights, epoch
        else:
            self.mean = [m + (w - m) / self.count for m, w in zip(self.mean, weights)]
        self.last_epoch = epoch
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, count=self.count, first_epoch=self.first_averaged, last_epoch=epoch,
                 **{f"{WEIGHT_PREFIX}{i}": m for i, m in enumerate(self.mean)})
        tmp.replace(self.path)

    def apply(self, model: keras.Model) -> bool:
        """Load the averaged weights into `model`; False when no epoch was averaged."""
        if not self.mean:
            return False
        current = model.get_weights()
        model.set_weights([m.astype(c.dtype) for m, c in zip(self.mean, current)])
        return True


def saved_weights(saved: np.lib.npyio.NpzFile) -> list[np.ndarray]:
    """The mean's arrays of an open average.npz, in the order of the model's weights."""
    layers = sum(1 for name in saved.files if name.startswith(WEIGHT_PREFIX))
    return [saved[f"{WEIGHT_PREFIX}{i}"] for i in range(layers)]


def is_kept_average(model: keras.Model, out_dir: Path) -> bool:
    """Whether `model` (a run's model.keras) is the mean saved in `out_dir` as train.fit keeps it: the mean's
    weights with the batch-norm statistics recomputed (and the logits' bias moved by class offsets). Its other
    weights (kernels, batch-norm scales) are the mean's, exactly; an epoch's are not, except the one epoch of a mean that holds no other, whose
    batch-norm statistics are then the mean's too (not recomputed)."""
    path = out_dir / AVERAGE_FILE
    if not path.is_file():
        return False
    with np.load(path) as saved:
        mean = saved_weights(saved)
    if len(mean) != len(model.weights):
        return False
    statistics = recomputed = 0
    for variable, averaged in zip(model.weights, mean):
        value = keras.ops.convert_to_numpy(variable)
        same = value.shape == averaged.shape and np.array_equal(value, averaged.astype(value.dtype))
        if variable.name in BATCH_NORM_STATISTICS:
            statistics, recomputed = statistics + 1, recomputed + (not same)
        elif variable.name != OFFSET_VARIABLE and not same:  # kernels, batch-norm scales, mirror-paired halves
            return False
    return recomputed > 0 or statistics == 0


def recalibrate_batch_norm(model: keras.Model, images: np.ndarray, batch_size: int = RECALIBRATION_BATCH) -> None:
    """Recompute every BatchNormalization layer's moving mean and variance as the plain average of its batch
    statistics over `images` (momentum t/(t+1) at step t), in one pass in training mode."""
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return
    saved_momentum = [layer.momentum for layer in norms]
    try:
        for step, start in enumerate(range(0, len(images), batch_size)):
            for layer in norms:
                layer.momentum = step / (step + 1)
            model(images[start:start + batch_size].astype("float32"), training=True)
    finally:
        for layer, momentum in zip(norms, saved_momentum):
            layer.momentum = momentum
