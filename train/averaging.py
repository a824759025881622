"""Stochastic weight averaging: the mean of the weights at the end of the last epochs of a run, with
batch-norm statistics recomputed for the averaged weights (the averaged moving statistics do not match them).

The running mean is saved after every epoch it covers, with the last epoch it holds, so `--resume` keeps it
(and only a resumed run reads it: a fresh run in the same folder starts a new mean)."""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

log = logging.getLogger(__name__)

AVERAGE_FILE = "average.npz"
WEIGHT_PREFIX = "w"  # average.npz holds count, last_epoch and w0, w1, ... (one array per weight)
RECALIBRATION_BATCH = 256


class WeightAverage(keras.callbacks.Callback):
    """Running mean of the model's floating-point weights at the end of each epoch from `first_epoch` on."""

    def __init__(self, out_dir: Path, first_epoch: int):
        super().__init__()
        self.path = out_dir / AVERAGE_FILE
        self.first_epoch = first_epoch
        self.mean: list[np.ndarray] | None = None
        self.count = 0
        self.last_epoch = first_epoch - 1  # nothing averaged yet

    def resume(self, model: keras.Model, last_epoch: int) -> None:
        """Continue the mean saved by a run whose last finished epoch is `last_epoch` (its weights: `model`).
        The resume state is saved before the mean, so an interruption between the two leaves the mean one
        epoch behind; that epoch is folded in from `model`."""
        if self.path.is_file():
            with np.load(self.path) as saved:
                self.count = int(saved["count"])
                self.last_epoch = int(saved["last_epoch"]) if "last_epoch" in saved.files else last_epoch
                layers = sum(1 for name in saved.files if name.startswith(WEIGHT_PREFIX))
                self.mean = [saved[f"{WEIGHT_PREFIX}{i}"] for i in range(layers)]
            log.info("weight average resumed with %d epochs", self.count)
        if last_epoch < self.first_epoch:
            return
        if self.last_epoch == last_epoch - 1:
            self.add(model, last_epoch)
            log.info("weight average caught up with epoch %d", last_epoch + 1)
        elif self.last_epoch != last_epoch:
            log.warning("weight average ends at epoch %d but the run at epoch %d: it is kept as it is",
                        self.last_epoch + 1, last_epoch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if epoch >= self.first_epoch:
            self.add(self.model, epoch)

    def add(self, model: keras.Model, epoch: int) -> None:
        weights = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
        self.count += 1
        if self.mean is None:
            self.mean = weights
        else:
            self.mean = [m + (w - m) / self.count for m, w in zip(self.mean, weights)]
        self.last_epoch = epoch
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, count=self.count, last_epoch=epoch, **{f"{WEIGHT_PREFIX}{i}": m for i, m in enumerate(self.mean)})
        tmp.replace(self.path)

    def apply(self, model: keras.Model) -> bool:
        """Load the averaged weights into `model`; False when no epoch was averaged."""
        if not self.mean:
            return False
        current = model.get_weights()
        model.set_weights([m.astype(c.dtype) for m, c in zip(self.mean, current)])
        return True


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
