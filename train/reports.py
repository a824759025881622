"""Everything a trainer reads after a run: tuned class offsets, metrics JSON and table, curves and
confusion PNGs, run.json (read by convert) and a short model card."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import platform
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from edge.contract import file_sha256
from edge.interrupts import stops_deferred
from train.config import BEST_CHECKPOINT, HISTORY_FILE, RUN_RECORD, TrainConfig, write_text_atomic
from train.data import NOT_HELD_OUT_NOTES, TRAIN_SLICE, Split, faces_fingerprint, not_held_out_because
from train.fit import save_model
from train.labels import EMOTIONS, IMAGE_SIZE
from train.metrics import classification_report, format_table, tune_class_bias
from train.mirror_symmetric import is_mirror_symmetric, to_plain
from train.model import LOGITS_LAYER, count_macs
from train.plots import plot_confusion, plot_curves, plot_soup_curves

log = logging.getLogger(__name__)

BIAS_STEPS = tuple(np.round(np.arange(-1.0, 2.01, 0.1), 2))
PREDICT_BATCH = 512
REOPENED_RECORD = "reopened.json"  # a resumed finished run: the offsets folded into its model, until taken out
SET_ASIDE_RECORD = "run.reopened.json"  # the run.json a resumed finished run had (kept for its figures)
# Offsets may not push any class's recall on the validation slice below this: the slice holds only ~44
# disgust faces, so the floor sits above the 0.40 disgust-recall target to leave room for sampling error.
MIN_TUNED_RECALL = 0.5


def predict(model: keras.Model, split: Split) -> np.ndarray:
    return np.asarray(model.predict(split.x.astype("float32"), batch_size=PREDICT_BATCH, verbose=0), dtype=np.float64)


def deployed_size(model: keras.Model) -> dict[str, int]:
    """Parameters and multiply-accumulates of the net convert ships: a mirror-symmetric net is shipped as the
    plain net it equals, so its free weights (about half) are recorded apart."""
    if not is_mirror_symmetric(model):
        return {"params": model.count_params(), "macs": count_macs(model)}
    plain = to_plain(model)
    return {"params": plain.count_params(), "macs": count_macs(plain), "free_params": model.count_params()}


def fold_class_bias(model: keras.Model, bias: np.ndarray) -> None:
    """Add log-probability offsets to the logits bias, so the saved model already applies them."""
    layer = model.get_layer(LOGITS_LAYER)
    kernel, current = layer.get_weights()
    layer.set_weights([kernel, (current + bias).astype(current.dtype)])


def recorded_bias(record: Path) -> list[float] | None:
    """The class offsets a run.json (or a reopened run's record) says are folded into model.keras."""
    try:
        recorded = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    bias = recorded.get("class_bias") if isinstance(recorded, dict) else None
    return bias if isinstance(bias, list) and any(bias) else None


def unfold_previous_bias(model: keras.Model, out: Path) -> None:
    """Take the offsets an earlier report folded into this run's model back out (for --reports-only)."""
    previous = recorded_bias(out / RUN_RECORD)
    if previous:
        fold_class_bias(model, -np.asarray(previous, dtype=np.float64))
        log.info("took the previous class offsets %s back out of %s", previous, out / BEST_CHECKPOINT)


def reopen_finished_run(out: Path) -> None:
    """--resume of a finished run: its model.keras carries the offsets its report folded in, which the new
    report would tune on top of (and record only the second round). The offsets are taken back out and
    run.json, which no longer describes the model, is set aside as run.reopened.json (the run is unfinished
    until its new report). The sha256 of the folded model in the pending record makes this safe to repeat
    after an interruption at any step."""
    reopened, model_path = out / REOPENED_RECORD, out / BEST_CHECKPOINT
    if (out / RUN_RECORD).is_file():
        pending = {"class_bias": recorded_bias(out / RUN_RECORD),
                   "model_sha256": file_sha256(model_path) if model_path.is_file() else None}
        write_text_atomic(reopened, json.dumps(pending))
        (out / RUN_RECORD).replace(out / SET_ASIDE_RECORD)
    if not reopened.is_file():
        return
    pending = json.loads(reopened.read_text())
    if pending["class_bias"] and model_path.is_file() and file_sha256(model_path) == pending["model_sha256"]:
        model = keras.models.load_model(model_path)
        fold_class_bias(model, -np.asarray(pending["class_bias"], dtype=np.float64))
        save_model(model, model_path)
        log.info("reopened a finished run: took its class offsets %s back out of %s", pending["class_bias"],
                 model_path)
    reopened.unlink()


def history_chain(out: Path, init_from: Path | None) -> list[Path]:
    """This run's history, preceded by the histories of the runs it was warm-started from (via run.json)."""
    chain = [out / HISTORY_FILE]
    seen = {out.resolve()}
    while init_from is not None:
        source = init_from.parent
        if source.resolve() in seen or not (source / HISTORY_FILE).is_file():
            break
        seen.add(source.resolve())
        chain.insert(0, source / HISTORY_FILE)
        try:
            parent = json.loads((source / RUN_RECORD).read_text()).get("init_from")
        except (OSError, ValueError):
            parent = None
        init_from = Path(parent) if parent else None
    return chain


def write_reports(model: keras.Model, args: argparse.Namespace, config: TrainConfig, val: Split,
                  evaluation: Split | None, command: str, seconds: float) -> dict:
    out: Path = args.out
    bias = np.zeros(len(EMOTIONS))
    untuned = predict(model, val)
    untuned_accuracy = float(np.mean(np.argmax(untuned, 1) == val.y))
    log.info("%s accuracy before class offsets: %.4f", val.name, untuned_accuracy)
    if args.offsets is not None:
        bias = np.asarray(args.offsets, dtype=np.float64)
        fold_class_bias(model, bias)
        log.info("class logit offsets from %s: %s", args.offsets_from, dict(zip(EMOTIONS, bias.tolist())))
    elif not args.no_tune_bias:
        bias = tune_class_bias(untuned, val.y, BIAS_STEPS, min_recall=MIN_TUNED_RECALL)
        fold_class_bias(model, bias)
        log.info("class logit offsets tuned on %s: %s", val.name, dict(zip(EMOTIONS, np.round(bias, 2).tolist())))
    metrics = {"validation": classification_report(val.y, np.argmax(predict(model, val), 1), EMOTIONS)}
    if evaluation is not None:
        metrics[evaluation.name] = classification_report(evaluation.y, np.argmax(predict(model, evaluation), 1), EMOTIONS)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    run = {
        "config": asdict(config), "labels": list(EMOTIONS), "input_shape": [IMAGE_SIZE, IMAGE_SIZE, 1],
        "mixed_precision": config.mixed_precision, "data": str(Path(args.data).resolve()), "command": command,
        "limit": args.limit or None,  # a smoke run on this many training faces; None: all of them
        "seconds": round(seconds, 1), "init_from": str(args.init_from) if args.init_from else None,
        "distill_from": str(args.distill_from) if args.distill_from else None,
        "soup_of": [str(run) for run in args.soup] if getattr(args, "soup", None) else None,
        "val_fraction": None if args.val_split else args.val_fraction, "val_split": args.val_split,
        "val_fingerprint": faces_fingerprint(val),
        "fitted_splits": args.fitted,
        "class_bias": np.round(bias, 3).tolist(), "untuned_validation_accuracy": round(untuned_accuracy, 4),
        "class_bias_from": str(args.offsets_from) if args.offsets_from else None,
        **deployed_size(model),
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.system()}".strip(),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    # Saved whether or not offsets were tuned, then run.json at once (atomically): --reports-only took the
    # previous offsets out of the model in memory, and the shipped file must carry exactly the class_bias
    # run.json records. The figures come after, so a failing plot cannot split the two, nor can a Ctrl-C.
    with stops_deferred():
        save_model(model, out / BEST_CHECKPOINT)
        write_text_atomic(out / RUN_RECORD, json.dumps(run, indent=2))
    write_model_card(out, run, metrics)
    shown_name = evaluation.name if evaluation is not None else "validation"
    shown = metrics[shown_name]
    print(f"\nper-class results on {shown_name} (float model):\n{format_table(shown)}")
    if getattr(args, "soup", None):
        plot_member_curves(args.soup, metrics["validation"]["accuracy"], out / "curves.png")
    elif (out / HISTORY_FILE).is_file():
        plot_curves(history_chain(out, args.init_from), out / "curves.png")
    plot_confusion(shown["confusion"], EMOTIONS, f"{shown_name}: accuracy {shown['accuracy']:.3f}", out / "confusion.png")
    log.info("reports written to %s", out.resolve())
    return metrics


def plot_member_curves(members: list[Path], soup_val_accuracy: float, out_png: Path) -> None:
    """A soup's curves: the stages before its members (the first member's lineage) and each member's tail.
    A member's unreadable history costs the figure (with a warning), not the soup."""
    tails = {str(run): run / HISTORY_FILE for run in members if (run / HISTORY_FILE).is_file()}
    if not tails:
        return
    try:
        first_start = json.loads((members[0] / RUN_RECORD).read_text()).get("init_from")
        shared = history_chain(members[0], Path(first_start) if first_start else None)[:-1]
        plot_soup_curves(shared, tails, soup_val_accuracy, out_png)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("no curves for the soup: a member's history cannot be read (%s)", exc)


def offsets_source(run: dict) -> str:
    if run.get("class_bias_from"):
        return f"taken from {run['class_bias_from']}"
    return "tuned on the validation slice" if any(run["class_bias"]) else "none"


def write_model_card(out: Path, run: dict, metrics: dict) -> None:
    rows = []
    fitted = run.get("fitted_splits") or ["train"]
    validation = run.get("val_split") or TRAIN_SLICE
    for split, report in metrics.items():
        shown, chose = (validation, None) if split == "validation" else (split, validation)
        reason = not_held_out_because(shown, fitted, chose)
        note = f" ({NOT_HELD_OUT_NOTES[reason]})" if reason else ""
        rows.append(f"| {split}{note} | {report['n']} | {report['accuracy']:.4f} | {report['macro_f1']:.4f} |")
    card = f"""# Model card: {out.name}

- Task: 7-class facial expression ({', '.join(EMOTIONS)}), FER-2013 48x48 grayscale faces.
- Data: `{run['data']}`
- Command: `{run['command']}`
- Time taken: {run['seconds'] / 60:.1f} min on {run['machine']}
- Model: {run['params']:,} parameters, {run['macs'] / 1e6:.1f} M multiply-accumulates per face,
  raw 0-255 pixels in, softmax probabilities out.
- Fitted on: {' + '.join(fitted)}{' (teacher: ' + run['distill_from'] + ')' if run.get('distill_from') else ''}
{'- Soup (uniform weight mean) of: ' + ', '.join(run['soup_of']) + chr(10) if run.get('soup_of') else ''}- Training: {json.dumps(run['config'])}
- Class logit offsets ({offsets_source(run)}, folded into the model): {run['class_bias']}
  (validation accuracy without them: {run['untuned_validation_accuracy']:.4f})

| split | n | accuracy | macro-F1 |
|---|---|---|---|
{chr(10).join(rows)}

Per-class figures: `metrics.json`; curves: `curves.png`; confusion matrix: `confusion.png`.
"""
    (out / "model_card.md").write_text(card)
