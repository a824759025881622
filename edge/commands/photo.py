"""`python -m edge photo IMG [--out DIR]`: classify every face of one photo.

Writes <stem>_annotated.png and one <stem>_face<N>_probs.png bar chart per face, prints a table.
"""

from __future__ import annotations

import argparse
import io
import logging
import re
from pathlib import Path

import numpy as np

from edge.cli_common import path_argument
from edge.commands.options import add_config_arguments, apply_log_level, config_from_args
from edge.errors import EdgeError
from edge.staged import folder_problem, write_problem
from edge.types import FaceResult, FrameResult, Frame, Prediction

log = logging.getLogger(__name__)

HELP = "Classify the faces of one photo: annotated image, per-face probability charts, printed table."
CHART_SIZE_IN = (5.0, 3.0)
CHART_DPI = 100
CONFIG_SECTIONS = ("detector", "classifier", "log_level")  # the only parts of the config a photo uses
VIDEO_ONLY_KEYS = ("detector.every", "detector.mediapipe.running_mode")  # a photo is one image: no flags for them
PHOTO_ALIASES = ("--detector", "--model", "--threads", "--log-level")  # spelled as in `python -m edge`
# Haar's detection width for photos: a 12 MP photo's 100 px faces stay 40 px (the cascade finds 24 px), at about
# a second per photo on a Pi 4 rather than a 4000 px pass.
PHOTO_DETECT_WIDTH = 1600
CASCADE_WINDOW_PX = 24  # haarcascade_frontalface_default's window: the smallest face it finds at its scale


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=path_argument, help="photo to classify")
    parser.add_argument("--out", dest="photo_out", type=path_argument, default=Path("out/photo"), metavar="DIR",
                        help="output folder (default %(default)s)")
    add_config_arguments(parser, aliases=PHOTO_ALIASES, only=CONFIG_SECTIONS, skip=VIDEO_ONLY_KEYS)


def chart_png(prediction: Prediction, title: str) -> bytes:
    """A horizontal probability bar chart as PNG bytes (matplotlib's object API: safe off the main thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from edge.sinks.overlay import label_colour

    colours = [tuple(c / 255 for c in reversed(label_colour(name))) for name in prediction.labels]
    fig = Figure(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.barh(list(prediction.labels), prediction.probs, color=colours)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    ax.set_title(title)
    for row, value in enumerate(prediction.probs):
        ax.text(min(float(value) + 0.01, 0.9), row, f"{value:.2f}", va="center", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def chart_title(face: FaceResult) -> str:
    return f"face {face.track_id}: {face.label} ({face.raw.confidence:.0%})"


def save_chart(prediction: Prediction, title: str, path: Path) -> None:
    path.write_bytes(chart_png(prediction, title))


def classify_photo(image: np.ndarray, detector, classifier, source: str = "") -> FrameResult:
    """Every face of one BGR image, numbered left to right (no tracking, no smoothing)."""
    boxes = sorted(detector.detect(image), key=lambda b: (b.x1, b.y1))
    predictions = classifier.classify(image, boxes)
    faces = [FaceResult(box=b, track_id=i + 1, raw=p, smoothed=p, label=p.label)
             for i, (b, p) in enumerate(zip(boxes, predictions))]
    return FrameResult(frame=Frame(image=image, timestamp=0.0, index=0, source=source), faces=faces)


def format_table(faces: list[FaceResult]) -> str:
    if not faces:
        return "no faces found"
    labels = faces[0].raw.labels
    header = f"{'face':>4} {'box':<22} {'label':<9} {'conf':>5} " + " ".join(f"{name[:8]:>8}" for name in labels)
    rows = [header]
    for face in faces:
        box = ",".join(map(str, face.box.as_list()))
        probs = " ".join(f"{p:8.3f}" for p in face.raw.probs)
        rows.append(f"{face.track_id:>4} {box:<22} {face.label:<9} {face.raw.confidence:5.2f} {probs}")
    return "\n".join(rows)


def check_writable(out: Path) -> None:
    """Before the models load, creating nothing: a failed run leaves no empty output folder behind."""
    problem = folder_problem(out)
    if problem:
        raise EdgeError(f"output folder {out}", problem)


def make_output_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeError(f"output folder {out}", write_problem(out / "annotated.png", exc)) from None


def photo_detector_config(detector):  # edge.config.DetectorConfig -> the same, for still photos
    """The live settings suit a camera frame, not a photo: MediaPipe's short-range model (the `auto` pick) finds
    only faces larger than about a sixth of the frame, and Haar's 400 px detection width loses any face under
    about 240 px in a 4000 px photo. So a photo's `auto` is Haar, at PHOTO_DETECT_WIDTH unless detect_width was
    set; a detector type chosen by name is kept."""
    haar = detector.haar
    if "detect_width" not in haar.model_fields_set:
        haar = haar.model_copy(update={"detect_width": PHOTO_DETECT_WIDTH})
    kind = "haar" if detector.type == "auto" else detector.type
    return detector.model_copy(update={"type": kind, "haar": haar})


def no_faces_hint(detector, image_width: int) -> str:  # detector: photo_detector_config's DetectorConfig
    """Why faces may have been missed, naming the setting that limits this photo: the detection width of a large
    photo (Haar), MediaPipe's large-face model, else min_size."""
    why = f"faces smaller than {detector.min_size} px are dropped: --detector.min_size"
    detect_width = detector.haar.detect_width
    if detector.type == "haar" and detect_width and image_width > detect_width:
        smallest = round(CASCADE_WINDOW_PX * image_width / detect_width)
        if smallest > detector.min_size:
            why = (f"this {image_width} px wide photo is searched at {detect_width} px, where faces under about "
                   f"{smallest} px are too small to find: --detector.haar.detect_width 0 searches it whole, slower")
    elif detector.type == "mediapipe":
        why = ("MediaPipe's short-range model finds faces larger than about a sixth of the photo; --detector haar "
               "finds smaller ones")
    return f"no faces found ({why}; a face looking away or half hidden may not be detected)"


def load_photo_models(cfg):  # cfg: edge.config.RunConfig -> (FaceDetector, EmotionClassifier)
    """The still-photo detector and the classifier, or neither: a failed load closes what was loaded."""
    from edge.classifier import EmotionClassifier
    from edge.detectors import make_detector

    classifier = EmotionClassifier.from_config(cfg.classifier)
    try:
        detector = make_detector(photo_detector_config(cfg.detector))
    except BaseException:
        classifier.close()
        raise
    return detector, classifier


def classify_file(image: np.ndarray, cfg, source: str) -> FrameResult:  # cfg: edge.config.RunConfig
    """Load the models and classify; the models are closed whatever happens."""
    from edge.commands.run import close_all

    detector, classifier = load_photo_models(cfg)
    try:
        return classify_photo(image, detector, classifier, source=source)
    finally:
        close_all([classifier, detector])


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    apply_log_level(cfg.log_level)
    from edge.sinks.overlay import draw_overlay
    from edge.sources.images import read_image

    image = read_image(args.image)
    out: Path = args.photo_out
    check_writable(out)  # before the models load: a mistake costs nothing
    result = classify_file(image, cfg, str(args.image))
    make_output_folder(out)
    faces = result.faces
    stem = args.image.stem
    annotated = out / f"{stem}_annotated.png"
    import cv2

    if not cv2.imwrite(str(annotated), draw_overlay(image, result)):
        raise EdgeError(f"output {annotated}", "cannot write the annotated image")
    written = [annotated]
    chart_name = re.compile(rf"{re.escape(stem)}_face\d+_probs\.png")
    for stale in out.iterdir():  # an earlier run on a photo of this name may have found more faces
        if chart_name.fullmatch(stale.name):
            stale.unlink(missing_ok=True)
    for face in faces:
        chart = out / f"{stem}_face{face.track_id}_probs.png"
        save_chart(face.raw, chart_title(face), chart)
        written.append(chart)
    print(format_table(faces) if faces else no_faces_hint(photo_detector_config(cfg.detector), image.shape[1]))
    for path in written:
        print(f"wrote {path.resolve()}")
    return 0
