"""How a face cut by the frame border should reach the model: stretched, or padded back to a square (edge/crop.py).

    python -m scripts.border_crops --data ../shared/datasets/fer2013 --split test

Each face of the split is cut by a share of its side at the left or top (as the frame border would cut it) and
classified three ways: the cut face stretched to the model's input (before edge/crop.py), padded with its edge
pixels repeated (what edge/crop.py does), and padded with black. Prints accuracy per cut."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from edge.classifier import EmotionClassifier
from edge.config import DEFAULT_EMOTION_MODEL
from edge.types import Box

CUTS = (0.15, 0.25, 0.35)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_faces(folder: Path, labels: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
    faces, truth = [], []
    for index, name in enumerate(labels):
        for path in sorted((folder / name).iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                faces.append(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
                truth.append(index)
    return faces, np.array(truth)


def stretch(face: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The cut face squeezed back to full size, as the classifier fed it before edge/crop.py (already square,
    so the classifier does not pad it)."""
    return cv2.resize(face, size, interpolation=cv2.INTER_AREA)


def accuracy(classifier: EmotionClassifier, faces: list[np.ndarray], truth: np.ndarray) -> float:
    """Each face is given whole (one box over the image), so only the way it was cut and filled differs."""
    hits = 0
    for face, label in zip(faces, truth):
        image = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
        prediction = classifier.classify(image, [Box(0, 0, image.shape[1], image.shape[0])])[0]
        hits += int(np.argmax(prediction.probs)) == label
    return hits / len(faces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="FER-2013 image folders")
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", type=Path, default=DEFAULT_EMOTION_MODEL)
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model, 2, True)
    faces, truth = load_faces(args.data / args.split, list(classifier.contract.labels))
    print(f"whole faces: {accuracy(classifier, faces, truth):.4f} (n={len(faces)})")
    for cut in CUTS:
        size = (faces[0].shape[1], faces[0].shape[0])
        pixels = int(round(size[0] * cut))
        left = [face[:, pixels:] for face in faces]
        top = [face[pixels:, :] for face in faces]
        figures = {
            "left stretched": [stretch(f, size) for f in left],
            "left repeated": [cv2.copyMakeBorder(f, 0, 0, pixels, 0, cv2.BORDER_REPLICATE) for f in left],
            "left black": [cv2.copyMakeBorder(f, 0, 0, pixels, 0, cv2.BORDER_CONSTANT, value=0) for f in left],
            "top stretched": [stretch(f, size) for f in top],
            "top repeated": [cv2.copyMakeBorder(f, pixels, 0, 0, 0, cv2.BORDER_REPLICATE) for f in top],
        }
        shown = "  ".join(f"{name} {accuracy(classifier, cut_faces, truth):.4f}" for name, cut_faces in figures.items())
        print(f"cut {cut:.0%}: {shown}", flush=True)


if __name__ == "__main__":
    main()
