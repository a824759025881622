"""On-the-fly augmentation for 48x48 raw-pixel faces, applied per batch inside tf.data."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from train.labels import IMAGE_SIZE

PIXEL_MAX = 255.0
AUGMENT_DTYPE = "float32"  # pixels stay float32 even under the mixed_bfloat16 policy
GAMMA_FLOOR = 1e-12  # two tiny Gamma draws must not divide 0 by 0


@dataclass(frozen=True)
class AugmentConfig:
    shift: float = 0.1  # fraction of the image size
    rotation_degrees: float = 10.0
    zoom: float = 0.1
    contrast: float = 0.3
    brightness: float = 0.2  # fraction of the pixel range
    erase_probability: float = 0.25
    erase_max_fraction: float = 0.4  # side of the erased square as a fraction of the image


def build_augmenter(config: AugmentConfig, seed: int) -> keras.Sequential:
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed, dtype=AUGMENT_DTYPE),
            layers.RandomRotation(config.rotation_degrees / 360.0, fill_mode="reflect", seed=seed + 1, dtype=AUGMENT_DTYPE),
            layers.RandomZoom(config.zoom, config.zoom, fill_mode="reflect", seed=seed + 2, dtype=AUGMENT_DTYPE),
            layers.RandomTranslation(config.shift, config.shift, fill_mode="reflect", seed=seed + 3, dtype=AUGMENT_DTYPE),
            layers.RandomContrast(config.contrast, value_range=(0, PIXEL_MAX), seed=seed + 4, dtype=AUGMENT_DTYPE),
            layers.RandomBrightness(config.brightness, value_range=(0, PIXEL_MAX), seed=seed + 5, dtype=AUGMENT_DTYPE),
        ],
        name="augment",
    )


def random_erase(images: tf.Tensor, probability: float, max_fraction: float) -> tf.Tensor:
    """Blank one random square per image (with `probability`) with mid-grey: occlusion robustness."""
    batch = tf.shape(images)[0]
    size = tf.cast(IMAGE_SIZE, tf.float32)
    side = tf.cast(tf.random.uniform([batch], 0.1, max_fraction) * size, tf.int32)
    top = tf.cast(tf.random.uniform([batch]) * tf.cast(IMAGE_SIZE - side, tf.float32), tf.int32)
    left = tf.cast(tf.random.uniform([batch]) * tf.cast(IMAGE_SIZE - side, tf.float32), tf.int32)
    coords = tf.range(IMAGE_SIZE)
    rows = (coords[None, :] >= top[:, None]) & (coords[None, :] < (top + side)[:, None])
    cols = (coords[None, :] >= left[:, None]) & (coords[None, :] < (left + side)[:, None])
    apply = tf.random.uniform([batch]) < probability
    mask = rows[:, :, None] & cols[:, None, :] & apply[:, None, None]
    return tf.where(mask[..., None], tf.fill(tf.shape(images), PIXEL_MAX / 2), images)


def mix_batch(images: tf.Tensor, labels: tf.Tensor, weights: tf.Tensor, alpha: float):
    """Mixup: blend every face with another face of the batch, and its label and sample weight likewise.

    The share lam ~ Beta(alpha, alpha) is folded to lam >= 0.5 so each row stays led by its own face; a small
    alpha (0.1-0.4) keeps most blends faint. Regularises a net that memorises its training faces."""
    batch = tf.shape(images)[0]
    first = tf.random.gamma([batch], alpha)
    second = tf.random.gamma([batch], alpha)
    lam = first / tf.maximum(first + second, GAMMA_FLOOR)
    lam = tf.maximum(lam, 1.0 - lam)
    partner = tf.random.shuffle(tf.range(batch))
    lam_images = tf.cast(lam, images.dtype)[:, None, None, None]
    lam_rows = tf.cast(lam, labels.dtype)[:, None]
    images = lam_images * images + (1.0 - lam_images) * tf.gather(images, partner)
    labels = lam_rows * labels + (1.0 - lam_rows) * tf.gather(labels, partner)
    weights = tf.cast(lam, weights.dtype) * weights + tf.cast(1.0 - lam, weights.dtype) * tf.gather(weights, partner)
    return images, labels, weights
