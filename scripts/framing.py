"""How a detector's box should be grown (`detector.margin`) so the crop the model sees is framed like FER-2013's.

    git show 57de2da:models/emotion_int8.tflite > /tmp/s3.tflite; git show 57de2da:models/emotion_int8.json > /tmp/s3.json
    python -m scripts.framing --data ../shared/datasets/fer2013 --split test --model /tmp/s3.tflite

(the session-3 model, which never trained on test/; the shipped one fitted those faces, so --model is required)

FER-2013's faces are 48x48 crops of a set framing (forehead to chin, some hair and cheeks). Each face of the split is
enlarged (x4, to 192 px) and put in the middle of a canvas twice its size, the rest filled with its edge pixels
repeated, so a detector finds it as it would a face in a frame. Each detector (haar, and mediapipe when its model
file is present) reports its tight box (margin 0); the script prints how big that box is against the FER crop (the
margin that would reproduce the crop's size) and where its centre sits, then the model's accuracy on the crops the
product would cut at each margin (edge/crop.py's path through the classifier), next to the faces given whole.
Beyond the FER crop there are only repeated edge pixels, so margins past the crop's own are a floor, not a
measurement of real context."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.classifier import EmotionClassifier
from edge.config import DEFAULT_EMOTION_MODEL, DetectorConfig, resolve_data_path
from edge.detectors import make_detector
from edge.detectors.base import expand_box
from edge.types import Box
from scripts.border_crops import load_faces

ENLARGE = 4  # 48 px faces to 192 px: larger than both detectors' smallest face, as a face a camera frames
CANVAS_PAD = 0.5  # canvas = the enlarged face plus half its side on every side
MARGINS = (0.0, 0.03, 0.06, 0.09, 0.12, 0.15, 0.18, 0.24)
SHIFTS = (-0.12, -0.08, -0.04, 0.0, 0.04)  # the box moved down by this share of its height before it is grown
SMALL_SIDES = (48, 40, 32, 24)
CENTRE_TOLERANCE = 0.25  # a box whose centre is further than this share of the face from the canvas centre is
# another "face" (a pattern in the repeated border), not this one


@dataclass(frozen=True)
class Scene:
    """A FER face enlarged in the middle of a canvas; `crop` is where the 48x48 original lies in it."""

    image: np.ndarray
    crop: Box


def make_scene(face: np.ndarray) -> Scene:
    side = face.shape[0] * ENLARGE
    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    pad = int(side * CANVAS_PAD)
    canvas = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return Scene(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), Box(pad, pad, pad + side, pad + side))


def central_box(boxes: list[Box], crop: Box) -> Box | None:
    """The box nearest the crop's centre, if it is near enough to be this face."""
    cx, cy, side = (crop.x1 + crop.x2) / 2, (crop.y1 + crop.y2) / 2, crop.width
    best = min(boxes, key=lambda b: ((b.x1 + b.x2) / 2 - cx) ** 2 + ((b.y1 + b.y2) / 2 - cy) ** 2, default=None)
    if best is None:
        return None
    off = max(abs((best.x1 + best.x2) / 2 - cx), abs((best.y1 + best.y2) / 2 - cy)) / side
    return best if off <= CENTRE_TOLERANCE else None


def accuracy(classifier: EmotionClassifier, scenes: list[Scene], boxes: list[Box], truth: np.ndarray) -> float:
    hits = sum(int(np.argmax(classifier.classify(s.image, [b])[0].probs)) == t for s, b, t in zip(scenes, boxes, truth))
    return hits / max(1, len(scenes))


def describe_boxes(name: str, found: list[tuple[Box, Box]], total: int) -> None:
    """Size and centre of the tight boxes against the FER crop they were found in."""
    ratio = np.array([b.width / c.width for b, c in found])
    dx = np.array([((b.x1 + b.x2) / 2 - (c.x1 + c.x2) / 2) / c.width for b, c in found])
    dy = np.array([((b.y1 + b.y2) / 2 - (c.y1 + c.y2) / 2) / c.width for b, c in found])
    fit = (1 / ratio - 1) / 2  # the margin that grows this box to the crop's side
    q = lambda a: " / ".join(f"{v:+.3f}" if a is not fit and a is not ratio else f"{v:.3f}"  # noqa: E731
                             for v in np.percentile(a, [25, 50, 75]))
    print(f"{name}: found {len(found)} of {total} ({len(found) / total:.1%}); box side / FER crop side (p25 / "
          f"median / p75) {q(ratio)}; margin that fits the crop {q(fit)}; centre offset x {q(dx)}, y {q(dy)} "
          f"(share of the crop side, + = right / down)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="FER-2013 image folders")
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", type=Path, required=True,
                        help=f"a model that never trained on --split (not the shipped {DEFAULT_EMOTION_MODEL}, which "
                             "fitted every labelled face)")
    parser.add_argument("--limit", type=int, default=0, help="only every Nth face (0: all)")
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model, 2, True)
    faces, truth = load_faces(args.data / args.split, list(classifier.contract.labels))
    if args.limit:
        faces, truth = faces[::args.limit], truth[::args.limit]
    scenes = [make_scene(f) for f in faces]
    whole = accuracy(classifier, scenes, [s.crop for s in scenes], truth)
    print(f"{len(scenes)} faces; given whole (the FER crop itself): {whole:.4f}", flush=True)
    shrunk = []
    for side in SMALL_SIDES:  # a face this small in the frame: its crop shrunk, then the classifier scales it up
        small = [Scene(cv2.resize(s.image[s.crop.y1:s.crop.y2, s.crop.x1:s.crop.x2], (side, side),
                                  interpolation=cv2.INTER_AREA), Box(0, 0, side, side)) for s in scenes]
        shrunk.append(f"{side} px {accuracy(classifier, small, [s.crop for s in small], truth):.4f}")
    print("the same crops at a smaller size in the frame (detector.min_size): " + "  ".join(shrunk), flush=True)
    kinds = ["haar"]
    if resolve_data_path(DetectorConfig().mediapipe.model).is_file():
        kinds.append("mediapipe")
    for kind in kinds:
        tight = {"shift_y": 0.0}  # the backend's own box: no margin, no shift
        detector = make_detector(DetectorConfig(type=kind, margin=0.0, min_size=1, haar=tight, mediapipe=tight))
        found = []
        for index, scene in enumerate(scenes):
            box = central_box(detector.detect(scene.image), scene.crop)
            if box is not None:
                found.append((index, box))
        detector.close()
        describe_boxes(kind, [(b, scenes[i].crop) for i, b in found], len(scenes))
        kept = [scenes[i] for i, _ in found]
        kept_truth = truth[[i for i, _ in found]]
        print(f"{kind}, accuracy on the faces it found: whole "
              f"{accuracy(classifier, kept, [s.crop for s in kept], kept_truth):.4f}", flush=True)
        for shift in SHIFTS:
            line = []
            for margin in MARGINS:
                boxes = [expand_box(b, margin, s.image.shape[1], s.image.shape[0], shift)
                         for s, (_, b) in zip(kept, found)]
                line.append(f"{margin:.2f} {accuracy(classifier, kept, boxes, kept_truth):.4f}")
            print(f"  shift_y {shift:+.2f}, by margin: " + "  ".join(line), flush=True)


if __name__ == "__main__":
    main()
