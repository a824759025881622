"""python -m convert.evaluate --model models/<name>.tflite --data <dataset> [--split test]: how good a
converted model is, measured with the edge runtime only (LiteRT, no TensorFlow, so it runs on the Pi).

The model is driven through the edge's own code: edge.contract reads the sidecar (labels, input
quantisation, preprocessing) and edge.classifier preprocesses, invokes and (via edge.quant) handles the
int8 maths. The figures are therefore those of the deployed pipeline, not of a re-implementation.
The last line printed is machine-readable:
`accuracy=<0.xxxx> macro_f1=<0.xxxx> n=<count> ms_per_face=<x.xxx>`, followed by ` mirror_average=yes` when
each face was classified with its mirror image (`--mirror-average`, the edge's `classifier.mirror_average`: the
time per face then covers both invokes), and by ` held_out=no` when the sidecar says the model was fitted on the
evaluated split or chose its epoch and offsets on it (its figures are then not a held-out result).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edge.interrupts import interrupted

try:  # about 0.7 s; under `python -m convert.evaluate` a Ctrl-C meanwhile is one line and exit 130, no traceback
    import cv2
    import numpy as np

    from edge.classifier import EmotionClassifier
    from edge.cli_common import OneLineParser, non_negative_int, path_argument, setup_logging
    from edge.contract import ValidationSpec, sidecar_path
    from edge.errors import EdgeError
    from edge.types import Box
    from train.config import TrainConfig
    from train.data import (CSV_SPLIT_USAGE, DEFAULT_VAL_FRACTION, HOLDOUT_SUFFIX, NOT_HELD_OUT_NOTES, Split,
                            faces_fingerprint, load_split, not_held_out_because, resolve_source, split_folder,
                            stratified_holdout)
    from train.labels import EMOTIONS
    from train.metrics import classification_report, format_table
    from train.plots import plot_confusion

    from convert.errors import ConvertError, run_cli
    from convert.litert import blamed_path
    from convert.paths import ensure_writable, folders_removed_on_failure
except KeyboardInterrupt:
    if __name__ != "__main__":  # imported by another module (python -m convert): its own handler says it
        raise
    sys.exit(interrupted())

log = logging.getLogger(__name__)

SINGLE_THREAD = 1  # latency is quoted per face on one core, the Pi's worst case with a busy pipeline
WARMUP_INVOKES = 3
PROGRESS_EVERY = 5000


@dataclass
class Evaluation:
    """Figures of one model on one split; `predicted` indexes the model's labels."""

    labels: tuple[str, ...]
    report: dict
    ms_per_face: float
    predicted: np.ndarray  # (N,) top-1 index per face
    probs: np.ndarray  # (N, classes) probabilities, as the edge classifier's postprocess gives them
    held_out: bool = True  # False when the model's run was fitted on these faces
    mirror_average: bool = False  # each face was classified with its mirror image, the two averaged

    def summary_line(self) -> str:
        return (f"accuracy={self.report['accuracy']:.4f} macro_f1={self.report['macro_f1']:.4f} "
                f"n={self.report['n']} ms_per_face={self.ms_per_face:.3f}"
                + (" mirror_average=yes" if self.mirror_average else "") + ("" if self.held_out else " held_out=no"))


def open_classifier(model_path: Path, mirror_average: bool = False) -> EmotionClassifier:
    """The edge classifier on one thread, one face per invoke (with `mirror_average`, the face and then its
    mirror image); edge errors become `<path>: <problem>`."""
    sidecar = sidecar_path(model_path)
    if model_path.suffix.lower() == ".json":  # a run.json or the sidecar itself: it would be read as its own sidecar
        raise ConvertError(model_path, "is a JSON file; give the .tflite model (its .json sidecar beside it)")
    if model_path.is_dir():
        raise ConvertError(model_path, "is a folder; give the .tflite file (its .json sidecar beside it)")
    if not model_path.is_file():
        raise ConvertError(model_path, "model file not found")
    if not sidecar.is_file():
        raise ConvertError(sidecar, "sidecar not found (python -m convert writes it next to the .tflite)")
    try:
        return EmotionClassifier(model_path, num_threads=SINGLE_THREAD, batch=False, mirror_average=mirror_average)
    except EdgeError as exc:
        raise ConvertError(blamed_path(exc, model_path), exc.problem) from None


def targets_in_model_order(split: Split, labels: tuple[str, ...], model_path: Path) -> np.ndarray:
    """Dataset labels (EMOTIONS indices) re-indexed to the sidecar's label order."""
    missing = sorted({EMOTIONS[i] for i in np.unique(split.y)} - set(labels))
    if missing:
        raise ConvertError(sidecar_path(model_path), f"labels lack dataset class(es) {', '.join(missing)}")
    order = np.asarray([labels.index(name) if name in labels else -1 for name in EMOTIONS])
    return order[split.y]


def face_as_frame(face: np.ndarray) -> tuple[np.ndarray, list[Box]]:
    """A dataset face (H, W, 1) as a BGR frame with one full-frame box: the edge's preprocessing
    (grey conversion, resize to the sidecar's size and interpolation, quantisation) then applies
    unchanged. Grey -> BGR -> grey is exact in OpenCV, and a 48x48 'area' resize to 48x48 is the identity."""
    height, width = face.shape[:2]
    return cv2.cvtColor(face.reshape(height, width), cv2.COLOR_GRAY2BGR), [Box(0, 0, width, height)]


def evaluate_model(model_path: Path, split: Split, mirror_average: bool = False) -> Evaluation:
    """Classify every face of `split` one invoke at a time, timing each face's invokes (median = ms_per_face).
    Raw outputs become probabilities through the classifier's own postprocess (dequantise, and softmax for a
    `kind: logits` sidecar; with `mirror_average`, the face's and its mirror image's averaged), exactly as on
    the device."""
    classifier = open_classifier(model_path, mirror_average)
    try:
        labels = classifier.labels
        targets = targets_in_model_order(split, labels, model_path)
        inputs = [classifier.preprocess(*face_as_frame(face)) for face in split.x]
        for model_input in inputs[:WARMUP_INVOKES]:
            classifier.infer(model_input)
        raw_rows, times = [], np.empty(len(inputs))
        for i, model_input in enumerate(inputs):
            start = time.perf_counter()
            raw_rows.extend(classifier.infer(model_input))
            times[i] = time.perf_counter() - start
            if (i + 1) % PROGRESS_EVERY == 0:
                log.info("evaluated %d/%d faces", i + 1, len(inputs))
        probs = np.stack([prediction.probs for prediction in classifier.postprocess(np.stack(raw_rows))])
    finally:
        classifier.close()
    predicted = np.argmax(probs, axis=1)
    report = classification_report(targets, predicted, labels)
    return Evaluation(labels, report, float(np.median(times) * 1000.0), predicted, probs,
                      mirror_average=classifier.mirror_average)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m convert.evaluate", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=path_argument, required=True, help=".tflite with its .json sidecar next to it")
    parser.add_argument("--data", type=path_argument, required=True, help="image-folder dataset or fer2013.csv")
    parser.add_argument("--split", type=str.lower, default="test",
                        help="split to evaluate (train, test, privatetest), or train-holdout: the validation slice "
                             "python -m train held out (cut as the sidecar's validation records)")
    parser.add_argument("--holdout-fraction", type=float,
                        help="with --split <split>-holdout: the run's --val-fraction (default: the sidecar's, else "
                             f"{DEFAULT_VAL_FRACTION})")
    parser.add_argument("--holdout-seed", type=non_negative_int,
                        help="with --split <split>-holdout: the run's --seed (default: the sidecar's, else "
                             f"{TrainConfig().seed})")
    parser.add_argument("--limit", type=int, default=0,
                        help="evaluate a stratified sample of about N faces, at least one per class, so never fewer "
                             "faces than classes (quick checks)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the --limit sample")
    parser.add_argument("--out-dir", type=path_argument, help="folder for the confusion PNG and a metrics JSON")
    parser.add_argument("--confusion", type=path_argument,
                        help="confusion-matrix PNG (default: <out-dir or model folder>/<model>_<split>_confusion.png)")
    parser.add_argument("--mirror-average", action="store_true",
                        help="classify each face and its mirror image and average the two, as the edge does with "
                             "classifier.mirror_average: true (twice the time per face)")
    parser.add_argument("--cache-dir", type=path_argument, help="decoded-array cache shared with train (e.g. .cache/fer)")
    parser.add_argument("--strict", action="store_true", help="fail on the first unreadable image or CSV row")
    return parser.parse_args(argv)


def load_eval_split(args: argparse.Namespace, validation: ValidationSpec | None = None) -> Split:
    """The faces to evaluate: a split, or the slice of one that training held out; --limit samples it. When
    they are the model's validation faces and the sidecar fingerprints them, they must be those faces."""
    split = args.split
    if split.lower().endswith(HOLDOUT_SUFFIX):
        whole = load_split(args.data, split[: -len(HOLDOUT_SUFFIX)], args.cache_dir, args.strict)
        _, faces = stratified_holdout(whole, args.holdout_fraction, args.holdout_seed)
    else:
        faces = load_split(args.data, split, args.cache_dir, args.strict)
    recorded = validation.fingerprint if validation and validation.split.lower() == split.lower() else None
    if recorded and faces_fingerprint(faces) != recorded:
        raise ConvertError(f"--split {split}", f"these {len(faces)} faces of {args.data} are not the ones the "
                           "model's run validated on (fingerprint differs): another form or copy of the dataset "
                           "(fer2013.csv and image folders list faces in other orders, so a slice cuts others)")
    if 0 < args.limit < len(faces):
        _, faces = stratified_holdout(faces, args.limit / len(faces), args.seed)
    return faces


def faces_read(args: argparse.Namespace) -> str:
    """What load_eval_split read, for the log: the split's folder, `<data>/test`, or a CSV dataset's file and the
    Usage its rows have, `<data>/fer2013.csv (Usage PublicTest)` (there is no `fer2013.csv/test`); for
    train-holdout the slice of the train split (there is no train-holdout folder or Usage) with the fraction and
    seed that cut it: `the held-out slice of <data>/train (fraction 0.1, seed 42)`."""
    whole = args.split.removesuffix(HOLDOUT_SUFFIX)
    held_out = whole != args.split
    source = resolve_source(args.data)  # the folder, or the CSV file itself (also when --data is its folder)
    notes = [f"Usage {CSV_SPLIT_USAGE.get(whole, whole)}"] if source.is_file() else []
    if held_out:
        notes.append(f"fraction {args.holdout_fraction}, seed {args.holdout_seed}")
    where = f"{source if source.is_file() else split_folder(source, whole)}"
    where += f" ({'; '.join(notes)})" if notes else ""
    return f"the held-out slice of {where}" if held_out else where


def resolve_holdout(args: argparse.Namespace, validation: ValidationSpec | None) -> None:
    """--holdout-seed/--holdout-fraction default to the slice the sidecar says chose the model; other values
    cut another slice, part of which the model was fitted on, so they are refused. Without a -holdout split
    they would cut nothing, and are refused too rather than silently ignored."""
    for name in ("seed", "fraction"):
        if getattr(args, f"holdout_{name}") is not None and not args.split.endswith(HOLDOUT_SUFFIX):
            raise ConvertError(f"--holdout-{name}", f"only with --split <split>{HOLDOUT_SUFFIX} (it cuts that slice; "
                                                     f"--split {args.split} evaluates the whole split)")
    if args.holdout_fraction is not None and not 0.0 < args.holdout_fraction < 1.0:
        raise ConvertError("--holdout-fraction", f"{args.holdout_fraction} must be between 0 and 1")
    recorded = validation if validation and validation.split.lower() == args.split.lower() else None
    for name, default in (("seed", TrainConfig().seed), ("fraction", DEFAULT_VAL_FRACTION)):
        given, kept = getattr(args, f"holdout_{name}"), getattr(recorded, name, None)
        if given is not None and kept is not None and given != kept:
            raise ConvertError(f"--holdout-{name}", f"{given}: the model's run held out the {args.split} slice of "
                                                     f"{name} {kept} (others hold faces it was fitted on)")
        setattr(args, f"holdout_{name}", next(v for v in (given, kept, default) if v is not None))


def run(args: argparse.Namespace) -> Evaluation:
    """Evaluate and write the figures; a failure leaves no new empty --out-dir (or --confusion folder) behind."""
    if args.limit < 0:
        raise ConvertError("--limit", f"{args.limit} must be >= 0")
    folder = args.out_dir or args.model.parent
    stem = (f"{args.model.stem}_{args.split}" + ("_mirror" if args.mirror_average else "")
            + (f"_limit{args.limit}_seed{args.seed}" if args.limit else ""))
    # (a quick --limit check never overwrites the figures of a whole split, nor a mirror-averaged one a plain one)
    confusion = args.confusion or folder / f"{stem}_confusion.png"
    metrics_json = args.out_dir / f"{stem}_metrics.json" if args.out_dir else None
    with folders_removed_on_failure(confusion, metrics_json):
        ensure_writable(confusion, ".png")
        if metrics_json:
            ensure_writable(metrics_json, ".json")
        return evaluate_into(args, confusion, metrics_json)


def evaluate_into(args: argparse.Namespace, confusion: Path, metrics_json: Path | None) -> Evaluation:
    """The evaluation of run(), its confusion PNG and (if given) metrics JSON written to writable paths."""
    classifier = open_classifier(args.model)  # model problems are reported before the dataset is read
    try:
        contract = classifier.contract
    finally:
        classifier.close()
    fitted_splits, validation = contract.fitted_splits, contract.validation
    # a second mirror pass would measure the same answers twice as slowly: no figure or file name may claim one
    if args.mirror_average and contract.mirror_built_in:
        raise ConvertError("--mirror-average", f"{args.model} {contract.mirror_built_in}, says its sidecar; "
                           "evaluate it without the flag")
    resolve_holdout(args, validation)
    reason = not_held_out_because(args.split, fitted_splits, validation.split if validation else None)
    held_out = reason is None
    if not held_out:
        log.warning("%s (%s; sidecar fitted_splits %s): its figures are not held-out figures", args.split,
                    NOT_HELD_OUT_NOTES[reason], fitted_splits)
    faces = load_eval_split(args, validation)
    log.info("evaluating %s on %s: %d faces, one face per invoke%s, %d thread", args.model, faces_read(args),
             len(faces), " and one for its mirror image" if args.mirror_average else "", SINGLE_THREAD)
    result = evaluate_model(args.model, faces, args.mirror_average)
    result.held_out = held_out
    title = (f"{args.model.name}{' mirror-averaged' if result.mirror_average else ''} on {args.split}: "
             f"accuracy {result.report['accuracy']:.3f}")
    if not held_out:
        title += f" ({NOT_HELD_OUT_NOTES[reason]})"
    plot_confusion(result.report["confusion"], result.labels, title, confusion)
    log.info("confusion matrix written to %s", confusion)
    if metrics_json:
        metrics_json.write_text(json.dumps({"model": str(args.model), "data": str(args.data.resolve()),
                                            "split": args.split, "limit": args.limit or None,
                                            "seed": args.seed if args.limit else None,
                                            "held_out": held_out, "not_held_out_because": reason,
                                            "mirror_average": result.mirror_average,
                                            "ms_per_face": result.ms_per_face,
                                            **result.report}, indent=2))
        log.info("metrics written to %s", metrics_json)
    return result


def main(argv: list[str] | None = None) -> int:
    def body() -> int:
        result = run(parse_args(argv))
        print(f"\n{format_table(result.report)}\n")
        print(result.summary_line())
        return 0

    setup_logging()
    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
