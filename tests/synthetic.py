"""Small synthetic FER-style datasets made by the tests themselves (never FER-2013 images).

Each class gets its own stripe frequency plus noise, so even a tiny network can learn it."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SIZE = 48


def face_like(label: int, rng: np.random.Generator) -> np.ndarray:
    rows = np.arange(SIZE)[:, None]
    stripes = 127 + 100 * np.sin(rows * (label + 1) * np.pi / SIZE + rng.uniform(0, 0.5))
    noise = rng.normal(0, 12, (SIZE, SIZE))
    return np.clip(np.broadcast_to(stripes, (SIZE, SIZE)) + noise, 0, 255).astype(np.uint8)


def write_image_folders(root: Path, per_class: dict[str, int], seed: int = 0, folder_case=str.lower) -> Path:
    """root/<split>/<class>/<n>.png for each split in per_class ({'train': 20, 'test': 5})."""
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for label, name in enumerate(LABELS):
            class_dir = root / split / folder_case(name)
            class_dir.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.fromarray(face_like(label, rng)).save(class_dir / f"{split}_{i}.png")
    return root


def write_csv(path: Path, per_usage: dict[str, int], seed: int = 0) -> Path:
    """fer2013.csv with columns emotion, pixels, Usage; per_usage like {'Training': 10, 'PublicTest': 3}."""
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for usage, count in per_usage.items():
            for label in range(len(LABELS)):
                for _ in range(count):
                    writer.writerow([label, " ".join(map(str, face_like(label, rng).ravel())), usage])
    return path
