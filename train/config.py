"""Training hyper-parameters and the run folder's file names (TensorFlow-free, so the CLI can validate input
before TensorFlow loads)."""

from __future__ import annotations

from dataclasses import dataclass, fields

# A run folder: the kept model (the one convert ships), the checkpoint --resume continues from, the resume state,
# the per-epoch history and the run record (config, lineage, offsets) that convert and --reports-only read.
BEST_CHECKPOINT = "model.keras"
LAST_CHECKPOINT = "last.keras"
STATE_FILE = "state.json"
HISTORY_FILE = "history.csv"
RUN_RECORD = "run.json"


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
    dense_units: int = 256
    dropout: float = 0.4
    patience: int = 15
    average_last: int = 0  # stochastic weight averaging over the last N epochs (0 = off)
    mixup: float = 0.0  # Beta(alpha, alpha) of mixup (0 = off)
    distill_weight: float = 0.0  # share of the teacher's soft targets in each training row (0 = no teacher)
    distill_temperature: float = 2.0
    seed: int = 42
    mixed_precision: bool = True

    @classmethod
    def from_record(cls, recorded: dict) -> TrainConfig:
        """The config a run.json recorded; keys this version no longer knows are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in recorded.items() if key in known})
