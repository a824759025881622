"""What averaging a face with its mirror image is worth, measured on the validation slice the runs held out.

    python -m scripts.mirror_gain --data ../shared/datasets/fer2013 runs/vgg24 runs/vgg24t
    python -m scripts.mirror_gain --data ../shared/datasets/fer2013 --mirror-soup runs/vgg36t
    python -m scripts.mirror_gain --data ../shared/datasets/fer2013 --ensemble runs/vgg36swt runs/vgg32st

For each finished run: untuned accuracy (its class offsets taken back out) of the float model on the slice its
seed cut, alone and with its mirror image averaged in (`train.model.mirror_averaged`: logits averaged, what
`python -m convert --mirror-average` builds). With --mirror-soup, also a one-pass alternative: the weights mixed
with their own mirror image (kernels flipped left to right, channels matched to the original's by the
correlation of their activations, Hungarian assignment per layer), batch norm recomputed on the training faces.
With --ensemble, also the runs together (the probabilities of every pass averaged, one pass each and with the
mirror passes; a single run's "mirror-averaged" figure averages its two passes' logits, as the built model does):
how far recombining them could go; --best-subsets K adds the best subset of each size up to K, picked on the slice
itself (so optimistic).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge.cli_common import OneLineParser, non_negative_int
from edge.errors import EdgeError
from train.config import BEST_CHECKPOINT, LAST_CHECKPOINT, RUN_RECORD
from train.data import (DEFAULT_CACHE_DIR, DEFAULT_VAL_FRACTION, DataError, extra_split_of, load_split,
                        stratified_holdout)
from train.environment import exit_without_tensorflow
from train.runfolder import read_run_record

if TYPE_CHECKING:  # Keras and what needs it load once the command line is parsed and TensorFlow is found
    import keras

MATCH_FACES = 4000  # training faces whose activations pair each channel with its mirror partner
SOUP_MIXES = (0.1, 0.25, 0.5)  # share of the mirrored weights in the soup
PREDICT_BATCH = 512
EXIT_BAD_INPUT = 2


def accuracy(model: keras.Model, faces: np.ndarray, labels: np.ndarray) -> float:
    probs = model.predict(faces.astype("float32"), batch_size=PREDICT_BATCH, verbose=0)
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def ensemble_accuracy(passes: list[np.ndarray], labels: np.ndarray) -> float:
    """Accuracy of the mean of probability arrays (one per model pass)."""
    return float(np.mean(np.argmax(np.mean(passes, axis=0), axis=1) == labels))


def report_ensembles(probabilities: dict[str, tuple[np.ndarray, np.ndarray]], labels: np.ndarray,
                     best_subsets: int) -> None:
    """probabilities: run -> (plain, mirrored) probabilities on the slice."""
    plain = [pair[0] for pair in probabilities.values()]
    both = [p for pair in probabilities.values() for p in pair]
    print(f"ensemble of {len(probabilities)} runs: {ensemble_accuracy(plain, labels):.4f} one pass each, "
          f"{ensemble_accuracy(both, labels):.4f} mirror-averaged")
    for size in range(2, min(best_subsets, len(probabilities)) + 1):
        score, subset = max((ensemble_accuracy([p for run in subset for p in probabilities[run]], labels), subset)
                            for subset in itertools.combinations(probabilities, size))
        print(f"  best {size} (picked on the slice, optimistic): {score:.4f} mirror-averaged: {', '.join(subset)}")


def mirror_partners(model: keras.Model, faces: np.ndarray) -> list[np.ndarray]:
    """Per conv layer (then the dense hidden layer), the permutation that pairs each channel with the channel of
    the mirrored net that best matches it: the activations for a face against those for its mirror image,
    mirrored back, correlated over faces and positions."""
    import keras
    from scipy.optimize import linear_sum_assignment

    names = [layer.name.replace("_conv", "_relu") for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    probe = keras.Model(model.input, [model.get_layer(name).output for name in [*names, "fc_relu"]])
    plain = probe.predict(faces, batch_size=PREDICT_BATCH // 2, verbose=0)
    mirrored = probe.predict(faces[:, :, ::-1].copy(), batch_size=PREDICT_BATCH // 2, verbose=0)
    partners = []
    for a, b in zip(plain, mirrored):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.ndim == 4:
            b = b[:, :, ::-1, :]
        a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
        a = (a - a.mean(0)) / (a.std(0) + 1e-8)
        b = (b - b.mean(0)) / (b.std(0) + 1e-8)
        rows, cols = linear_sum_assignment(a.T @ b / len(a), maximize=True)
        partners.append(cols[np.argsort(rows)])
    return partners


def mirrored_weights(model: keras.Model, partners: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Layer name -> weights of the mirrored net with its channels put in the original's order."""
    import keras

    from train.model import LOGITS_LAYER

    weights, previous = {}, None
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    for conv, order in zip(convs, partners):
        kernel = conv.get_weights()[0][:, ::-1]
        if previous is not None:
            kernel = kernel[:, :, previous]
        weights[conv.name] = [kernel[:, :, :, order]]
        norm = conv.name.replace("_conv", "_bn")
        weights[norm] = [w[order] for w in model.get_layer(norm).get_weights()]
        previous = order
    hidden = partners[-1]
    weights["fc"] = [model.get_layer("fc").get_weights()[0][previous][:, hidden]]
    weights["fc_bn"] = [w[hidden] for w in model.get_layer("fc_bn").get_weights()]
    kernel, bias = model.get_layer(LOGITS_LAYER).get_weights()
    weights[LOGITS_LAYER] = [kernel[hidden], bias]
    return weights


def mirror_soups(model: keras.Model, train_faces: np.ndarray, val_faces: np.ndarray, val_labels: np.ndarray) -> None:
    import keras

    from train.averaging import recalibrate_batch_norm

    rng = np.random.default_rng(0)
    sample = train_faces[rng.choice(len(train_faces), min(MATCH_FACES, len(train_faces)), replace=False)]
    mirrored = mirrored_weights(model, mirror_partners(model, sample.astype("float32")))
    for mix in SOUP_MIXES:
        soup = keras.models.clone_model(model)
        soup.set_weights(model.get_weights())
        for name, weights in mirrored.items():
            own = model.get_layer(name).get_weights()
            soup.get_layer(name).set_weights([(1 - mix) * w + mix * m for w, m in zip(own, weights)])
        before = accuracy(soup, val_faces, val_labels)
        recalibrate_batch_norm(soup, train_faces)
        print(f"  mirror soup {mix:.2f}: {accuracy(soup, val_faces, val_labels):.4f} "
              f"({before:.4f} before batch norm was recomputed)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(prog="python -m scripts.mirror_gain", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--mirror-soup", action="store_true", help="also the weights mixed with their mirror image")
    parser.add_argument("--ensemble", action="store_true", help="also all the runs together (one slice: same seed)")
    parser.add_argument("--best-subsets", type=non_negative_int, default=0, metavar="K",
                        help="with --ensemble: the best subset of each size up to K (picked on the slice)")
    parser.add_argument("runs", type=Path, nargs="+")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Bad input (usage, a run folder, its run.json or model.keras, the dataset) is one line, exit 2."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: stderr kept for the error lines
    try:
        measure(parse_args(argv))
    except (DataError, EdgeError) as exc:
        print(" ".join(f"error: {exc}".split()) if isinstance(exc, DataError) else exc.one_line(), file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None


def finished_runs(runs: list[Path]) -> dict[Path, dict]:
    """Each run's run.json, checked before TensorFlow or any data loads."""
    for run in runs:
        missing = [name for name in (RUN_RECORD, BEST_CHECKPOINT) if not (run / name).is_file()]
        if missing:
            raise DataError(f"{run}: no {' or '.join(missing)}: name a finished run folder (a kept "
                            f"checkpoint folder such as models/checkpoints/vgg32s holds {LAST_CHECKPOINT} only)")
    return {run: read_run_record(run / RUN_RECORD, "run") for run in runs}


def check_seeds(records: dict[Path, dict]) -> None:
    """Each run's seed, which cut its slice (its recorded config.seed), before any data loads."""
    for run, record in records.items():
        if not isinstance(record.get("config", {}).get("seed"), int):
            raise DataError(f"run {run / RUN_RECORD}: no config.seed (not a run record of python -m train)")


def measure(args: argparse.Namespace) -> None:
    records = finished_runs(args.runs)
    exit_without_tensorflow()  # before any data loads: one line and exit code 2 in a venv without TensorFlow
    check_seeds(records)
    if args.ensemble and len({run.resolve() for run in args.runs}) < len(args.runs):
        raise DataError("--ensemble: a run is named twice (it would count once)")
    train = load_split(args.data, "train", args.cache_dir)  # a bad --data is found before TensorFlow loads
    from train.fit import load_checkpoint
    from train.model import mirror_averaged
    from train.reports import unfold_previous_bias

    probabilities, slice_faces, slice_labels = {}, None, None
    for run in args.runs:
        record = records[run]
        if record.get("val_split"):
            raise DataError(f"{run}: validated on {record['val_split']}, not a held-out train slice")
        fitted, val = stratified_holdout(train, record.get("val_fraction") or DEFAULT_VAL_FRACTION,
                                         record["config"]["seed"])
        model = load_checkpoint(run / BEST_CHECKPOINT, "run")
        unfold_previous_bias(model, run)
        print(f"{run}: untuned on the slice ({len(val)} faces): {accuracy(model, val.x, val.y):.4f} alone, "
              f"{accuracy(mirror_averaged(model), val.x, val.y):.4f} mirror-averaged")
        if args.ensemble:
            if slice_faces is not None and not np.array_equal(slice_faces, val.x):
                raise DataError(f"{run}: held out another slice than the runs before it (seed or fraction)")
            slice_faces, slice_labels = val.x, val.y
            faces = val.x.astype("float32")
            probabilities[str(run)] = tuple(model.predict(f, batch_size=PREDICT_BATCH, verbose=0)
                                            for f in (faces, faces[:, :, ::-1]))
        if args.mirror_soup and record["config"].get("symmetry") == "mirror":
            print("  mirror soup: skipped (--symmetry mirror: the net is its own mirror image already)")
        elif args.mirror_soup:
            extra = extra_split_of(record.get("fitted_splits") or ["train"])
            faces = fitted.x
            if extra is not None:
                faces = np.concatenate([faces, load_split(args.data, extra, args.cache_dir).x])
            mirror_soups(model, faces, val.x, val.y)
    if args.ensemble:
        report_ensembles(probabilities, slice_labels, args.best_subsets)


if __name__ == "__main__":
    main()
