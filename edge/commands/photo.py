"""`python -m edge photo IMG [--out DIR]`: classify every face of one photo.

Writes <stem>_annotated.png and one <stem>_face<N>_probs.png bar chart per face, prints a table.
"""

from __future__ import annotations

import argparse
import io
import logging
from pathlib import Path

import numpy as np

from edge.commands.options import add_config_arguments, apply_log_level, config_from_args
from edge.errors import EdgeError
from edge.types import FaceResult, FrameResult, Frame, Prediction

log = logging.getLogger(__name__)

HELP = "Classify the faces of one photo: annotated image, per-face probability charts, printed table."
CHART_SIZE_IN = (5.0, 3.0)
CHART_DPI = 100
CONFIG_SECTIONS = ("detector", "classifier", "log_level")  # the only parts of the config a photo uses
WRITE_PROBE = ".write-test"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, help="photo to classify")
    parser.add_argument("--out", dest="photo_out", type=Path, default=Path("out/photo"), help="output folder (default %(default)s)")
    parser.add_argument("--detector", dest="set:detector.type", default=argparse.SUPPRESS, metavar="TYPE", help="auto | haar | mediapipe")
    parser.add_argument("--model", dest="set:classifier.model", default=argparse.SUPPRESS, metavar="PATH", help="emotion model .tflite")
    add_config_arguments(parser, aliases=False, only=CONFIG_SECTIONS)


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
    header = f"{'face':>4} {'box':<22} {'label':<9} {'conf':>5} " + " ".join(f"{name[:7]:>7}" for name in labels)
    rows = [header]
    for face in faces:
        box = ",".join(map(str, face.box.as_list()))
        probs = " ".join(f"{p:7.3f}" for p in face.raw.probs)
        rows.append(f"{face.track_id:>4} {box:<22} {face.label:<9} {face.raw.confidence:5.2f} {probs}")
    return "\n".join(rows)


def check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / WRITE_PROBE
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise EdgeError(f"output folder {out}", f"cannot write ({exc.strerror})") from None


def classify_file(image: np.ndarray, cfg, source: str) -> FrameResult:  # cfg: edge.config.RunConfig
    """Load the models and classify; the models are closed whatever happens."""
    from edge.classifier import EmotionClassifier
    from edge.commands.run import close_all
    from edge.detectors import make_detector

    models: list = []
    try:
        classifier = EmotionClassifier(cfg.classifier.model, cfg.classifier.num_threads, cfg.classifier.batch)
        models.append(classifier)
        detector = make_detector(cfg.detector)
        models.append(detector)
        return classify_photo(image, detector, classifier, source=source)
    finally:
        close_all(models)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    apply_log_level(cfg.log_level)
    from edge.sinks.overlay import draw_overlay
    from edge.sources.images import read_image

    image = read_image(args.image)
    out: Path = args.photo_out
    check_writable(out)  # before the models load: a mistake costs nothing
    result = classify_file(image, cfg, str(args.image))
    faces = result.faces
    stem = args.image.stem
    annotated = out / f"{stem}_annotated.png"
    import cv2

    if not cv2.imwrite(str(annotated), draw_overlay(image, result)):
        raise EdgeError(f"output {annotated}", "cannot write the annotated image")
    written = [annotated]
    for face in faces:
        chart = out / f"{stem}_face{face.track_id}_probs.png"
        save_chart(face.raw, chart_title(face), chart)
        written.append(chart)
    print(format_table(faces))
    for path in written:
        print(f"wrote {path.resolve()}")
    return 0
