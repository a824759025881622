"""A tiny synthetic FER-style dataset in the image-folder layout (<root>/<split>/<class>/*.png).

Each class is a bright square in its own position plus noise, so even a 1-epoch, width-4 model
learns something and accuracies are not all equal by accident. No FER-2013 image is involved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from train.labels import EMOTIONS, IMAGE_SIZE

SQUARE = 14
NOISE_SIGMA = 25.0
BACKGROUND = 70


def face(label: int, rng: np.random.Generator) -> np.ndarray:
    """48x48 uint8: a class-specific bright square (positions on a ring) over a noisy background."""
    image = np.full((IMAGE_SIZE, IMAGE_SIZE), BACKGROUND, dtype=np.float64)
    angle = 2 * np.pi * label / len(EMOTIONS)
    centre = IMAGE_SIZE / 2 + 14 * np.array([np.sin(angle), np.cos(angle)])
    top, left = (centre - SQUARE / 2 + rng.integers(-2, 3, size=2)).astype(int)
    image[top:top + SQUARE, left:left + SQUARE] = 220
    image += rng.normal(0, NOISE_SIGMA, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_dataset(root: Path, per_class: dict[str, int], seed: int = 0) -> Path:
    """Write splits such as {"train": 60, "test": 12} images per class; returns `root`."""
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for label, name in enumerate(EMOTIONS):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(face(label, rng)).save(folder / f"{i:04d}.png")
    return root


def rescaled_copy(root: Path, out: Path, low: int, high: int) -> Path:
    """A copy of the dataset at `root` with every pixel mapped linearly from 0..255 to `low`..`high` (faces that
    never reach 0 or 255, as a dim or low-contrast camera's); returns `out`."""
    for source in sorted(root.rglob("*.png")):
        target = out / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.asarray(Image.open(source).convert("L"), dtype=np.float64)
        Image.fromarray(np.round(low + pixels * (high - low) / 255.0).astype(np.uint8)).save(target)
    return out
