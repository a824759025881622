"""Training hyper-parameters and the run folder's file names (TensorFlow-free, so the CLI can validate input
before TensorFlow loads)."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, fields, replace
from pathlib import Path

# A run folder: the kept model (the one convert ships), the checkpoint --resume continues from, the resume state,
# the per-epoch history and the run record (config, lineage, offsets) that convert and --reports-only read.
BEST_CHECKPOINT = "model.keras"
LAST_CHECKPOINT = "last.keras"
STATE_FILE = "state.json"
BEST_PENDING = "best_pending"  # state.json: the epoch beat the best, and model.keras was not saved from it yet
# state.json: model.keras holds the weight average (--average-last) kept at the end, not one of the epochs (whose
# weights are gone). Absent in the states of older versions: train.fit then tells it from model.keras itself.
AVERAGE_KEPT = "average_kept"
RUN_FILES = (STATE_FILE, LAST_CHECKPOINT, BEST_CHECKPOINT)  # any of these: the folder holds a run
HISTORY_FILE = "history.csv"
STAGED_PREFIX = "staged-"  # a checkpoint being saved: renamed over the real one once complete
RUN_RECORD = "run.json"
KERAS_ARCHIVE_MEMBERS = ("config.json", "model.weights.h5")
# The layers of train.model that carry its architecture flags: (layer name, config key, divisor) for each
# TrainConfig field. width is read from block 3 (4 x width filters), since early_width may narrow blocks 1-2.
ARCHITECTURE_LAYERS = {"width": ("b3c1_conv", "filters", 4), "early_width": ("b1c1_conv", "filters", 1),
                       "dense_units": ("fc", "units", 1), "dropout": ("dropout", "rate", 1)}
# How the last block's map becomes one vector: global "average" pooling, or "learned" weights per position and
# channel (a depthwise conv as large as the map, started at the average), which the layer below marks.
POOLINGS = ("average", "learned")
LEARNED_POOL_LAYER = "learned_pool"
# How many convs block 4 has (train.model: --last-block-convs), counted from the layer names b4c1_conv, b4c2_conv, ...
LAST_BLOCK_CONV = re.compile(r"b4c\d+_conv")
# "none": train.model's plain net; "mirror": train.mirror_symmetric's, whose convs are MirrorConv2D layers
SYMMETRIES = ("none", "mirror")
MIRROR_CONV_CLASS = "MirrorConv2D"
ARCHITECTURE_FIELDS = (*ARCHITECTURE_LAYERS, "pooling", "last_block_convs", "symmetry")


def write_text_atomic(path: Path, text: str) -> None:
    """Write beside `path`, then rename over it: an interruption leaves the old file or the new one, never a part
    (run records, resume state, history)."""
    staged = path.with_name(path.name + ".tmp")
    staged.write_text(text)
    staged.replace(path)


def read_state(out_dir: Path) -> dict:
    """state.json of an interrupted run, checked; a ValueError naming the file when it is damaged."""
    path = out_dir / STATE_FILE
    try:
        state = json.loads(path.read_text())
        epoch, best = state["epoch"], state["best_val_accuracy"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise TypeError(f"epoch {epoch!r} is not a whole number of epochs")
        if isinstance(best, bool) or not isinstance(best, (int, float)):
            raise TypeError(f"best_val_accuracy {best!r} is not a number")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"--resume: {path} is damaged ({exc!r}): the run cannot be resumed; to start afresh, name "
                         f"a new --out folder, or remove {files_to_start_afresh(out_dir)} from {out_dir}") from None
    return state


def files_to_start_afresh(out_dir: Path) -> str:
    """The files that keep a new run out of a run folder (train.runfolder.check_fresh_folder: a checkpoint or a
    resume state, with or without --resume; run.json too under --resume), those present, as "a, b and c"."""
    present = [name for name in (*RUN_FILES, RUN_RECORD) if (out_dir / name).exists()] or [STATE_FILE]
    return present[0] if len(present) == 1 else f"{', '.join(present[:-1])} and {present[-1]}"


def keras_archive_problem(path: Path) -> str | None:
    """What is wrong with a .keras file (a zip with config and weights), or None; checked without TensorFlow,
    so a bad checkpoint is one line instead of a traceback."""
    if not zipfile.is_zipfile(path):
        return "not a Keras model archive (corrupt or truncated .keras file)"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        return f"corrupt Keras model archive ({exc})"
    missing = [member for member in KERAS_ARCHIVE_MEMBERS if member not in names]
    if missing:
        return f"corrupt Keras model archive (missing {', '.join(missing)})"
    return f"corrupt Keras model archive (bad member {bad})" if bad else None


def checkpoint_architecture(path: Path) -> dict[str, int | float | str]:
    """width, early_width, dense_units, dropout, pooling, last_block_convs and symmetry of a train.model checkpoint, read from the archive's
    config.json without TensorFlow: a run started from it (--init-from), mixed from it (--soup) or re-reported has its
    architecture, whatever the flags say. Fields whose layer is absent (another architecture) are left out."""
    try:
        with zipfile.ZipFile(path) as archive:
            layers = json.loads(archive.read("config.json"))["config"]["layers"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}
    by_name = {layer.get("config", {}).get("name"): layer.get("config", {}) for layer in layers}
    classes = {layer.get("class_name") for layer in layers}
    found = {field: by_name[layer][key] // divisor if divisor > 1 else by_name[layer][key]
             for field, (layer, key, divisor) in ARCHITECTURE_LAYERS.items() if key in by_name.get(layer, {})}
    if not found:
        return found
    return {**found, "pooling": "learned" if LEARNED_POOL_LAYER in by_name else "average",
            "last_block_convs": sum(1 for name in by_name if LAST_BLOCK_CONV.fullmatch(str(name))),
            "symmetry": "mirror" if MIRROR_CONV_CLASS in classes else "none"}


@dataclass
class TrainConfig:
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 0.05
    schedule: str = "cosine"  # after warm-up: "cosine" decay to zero, or "constant"
    warmup_epochs: int = 2
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5  # 0 = no re-weighting, 1 = inverse frequency
    width: int = 32
    early_width: int | None = None  # filters of block 1 (block 2: twice that); None = width, resolved at once
    dense_units: int = 256
    dropout: float = 0.4
    pooling: str = "average"  # one of POOLINGS
    last_block_convs: int = 2  # convs of block 4 (blocks 1-3 have two each)
    symmetry: str = "none"  # one of SYMMETRIES: "mirror" answers a face and its mirror image alike
    patience: int = 15
    average_last: int = 0  # stochastic weight averaging over the last N epochs (0 = off)
    mixup: float = 0.0  # Beta(alpha, alpha) of mixup (0 = off)
    distill_weight: float = 0.0  # share of the teacher's soft targets in each training row (0 = no teacher)
    distill_temperature: float = 2.0
    sam_rho: float = 0.0  # radius of sharpness-aware minimisation's climb (0 = plain SGD steps; see train.sam)
    seed: int = 42
    mixed_precision: bool = True

    def __post_init__(self) -> None:
        """The record names the early width either way, so a fresh run and its resume or tail agree."""
        if self.early_width is None:
            self.early_width = self.width

    @classmethod
    def from_record(cls, recorded: dict) -> TrainConfig:
        """The config a run.json recorded; keys this version no longer knows are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in recorded.items() if key in known})

    def with_architecture_of(self, checkpoint: Path) -> TrainConfig:
        """This config with the architecture fields of the model in `checkpoint` (a run.json written before
        --init-from adopted them may record the flag defaults instead)."""
        return replace(self, **checkpoint_architecture(checkpoint))
