"""Typed value objects shared by the benchmark driver and its worker processes (sent as JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

FORMAT = "edge-bench/1"
STAGES = ("decode", "detect", "preprocess", "classify", "track", "draw")
PROCESSING = ("detect", "preprocess", "classify", "track")  # the product's per-frame cost (edge.pipeline)
FRAME_BUDGET_MS = 1000.0 / 30.0  # one frame of a 30 fps camera
MODE_PIPELINE = "pipeline"
MODE_CLASSIFIER = "classifier"
CLASSIFIER_CLIP_FACES = (1, 3)  # the classifier alone runs on a one-face and a three-face clip of the first size


@dataclass(frozen=True)
class WorkerSpec:
    """One configuration, measured by one fresh `python -m edge.bench.worker` process."""

    mode: str  # MODE_PIPELINE or MODE_CLASSIFIER
    detector: str
    threads: int
    width: int
    height: int
    faces: int
    frames: int
    warmup: int
    repeats: int
    seed: int
    model: str
    face_model: str
    out: str
    launched_at: float = 0.0  # time.time() just before the process was started (start-up clock)
    mirror_average: bool = False  # classifier.mirror_average: each face classified with its mirror image

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> WorkerSpec:
        return cls(**data)


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not width.isdigit() or not height.isdigit() or int(width) < 64 or int(height) < 64:
        raise ValueError(f"size {text!r} is not WIDTHxHEIGHT (at least 64x64)")
    return int(width), int(height)
