"""Knowledge distillation from a finished run: soft targets for every training face.

The teacher is a run folder's model with its tuned class offsets taken back out, applied to each face and
its mirror image; the two logit vectors are averaged and softened by a temperature. Mirror averaging adds
0.7-0.9 validation points to a model but doubles its cost, so the student learns the averaged answer at
the cost of one pass. The targets are computed once on the un-augmented faces and cached in the run folder
(keyed by teacher, temperature and faces), so --resume does not recompute them."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import keras
import numpy as np

from train.config import BEST_CHECKPOINT
from train.fit import load_checkpoint
from train.model import LOGITS_LAYER
from train.reports import unfold_previous_bias

log = logging.getLogger(__name__)

TARGETS_FILE = "teacher_targets.npz"
TEACHER_BATCH = 512


def softened(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / temperature), row-wise, in float64."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def blend_targets(labels: np.ndarray, teacher: np.ndarray, weight: float) -> np.ndarray:
    """(1 - weight) * one-hot(labels) + weight * teacher probabilities, as float32 rows summing to 1."""
    one_hot = np.eye(teacher.shape[1])[labels]
    return ((1.0 - weight) * one_hot + weight * teacher).astype(np.float32)


def logits_model(model: keras.Model) -> keras.Model:
    """The same network ending at its logits (before the softmax), so the temperature applies to logits."""
    layer = model.get_layer(LOGITS_LAYER)
    return keras.Model(model.inputs, layer.output)


def mirror_averaged_logits(model: keras.Model, images: np.ndarray, batch_size: int = TEACHER_BATCH) -> np.ndarray:
    head = logits_model(model)
    faces = images.astype("float32")
    plain = head.predict(faces, batch_size=batch_size, verbose=0)
    mirrored = head.predict(faces[:, :, ::-1], batch_size=batch_size, verbose=0)
    return (np.asarray(plain, np.float64) + np.asarray(mirrored, np.float64)) / 2.0


def _key(teacher_run: Path, temperature: float, images: np.ndarray) -> str:
    digest = hashlib.sha256(images.tobytes())
    digest.update(f"{teacher_run.resolve()}|{temperature}".encode())
    return digest.hexdigest()


def teacher_probabilities(teacher_run: Path, images: np.ndarray, temperature: float, out_dir: Path) -> np.ndarray:
    """Softened, mirror-averaged probabilities of `teacher_run`'s model for `images` (cached in out_dir)."""
    cache = out_dir / TARGETS_FILE
    key = _key(teacher_run, temperature, images)
    if cache.is_file():
        with np.load(cache) as saved:
            if str(saved["key"]) == key:
                log.info("teacher targets reused from %s", cache)
                return saved["probabilities"]
    model = load_checkpoint(teacher_run / BEST_CHECKPOINT, "--distill-from")
    unfold_previous_bias(model, teacher_run)
    log.info("teacher %s: soft targets for %d faces (mirror-averaged, temperature %g)",
             teacher_run, len(images), temperature)
    probabilities = softened(mirror_averaged_logits(model, images), temperature)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, key=key, probabilities=probabilities)
    tmp.replace(cache)
    return probabilities
