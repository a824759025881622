"""The model sidecar (docs/CONTRACTS.md): the only thing the edge reads about a model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from edge.errors import EdgeError, checked

CONTRACT_FORMAT = "emotion-model-contract/1"
HASH_CHUNK_BYTES = 1 << 20
MISSING_MODEL_HINT = "train and convert a model, see docs/TRAIN.md and docs/CONVERT.md"
COLOR_CHANNELS = {"grayscale": 1, "bgr": 3, "rgb": 3}  # preprocess.color -> channels of the model input


class TensorSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")
    shape: list[int]
    dtype: Literal["int8", "uint8", "int16", "float32", "float16"]
    scale: float = 0.0
    zero_point: int = 0


class OutputSpec(TensorSpec):
    kind: Literal["probabilities", "logits"] = "probabilities"


class PreprocessSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")
    color: Literal["grayscale", "bgr", "rgb"] = "grayscale"
    width: int
    height: int
    interpolation: Literal["area", "linear", "nearest", "cubic"] = "area"
    value_range: tuple[float, float] = (0.0, 255.0)

    @property
    def channels(self) -> int:
        return COLOR_CHANNELS[self.color]


class ValidationSpec(BaseModel):
    """The faces that chose the model (best epoch, class offsets): a split, or the slice of train cut with
    `seed` and `fraction`; figures on them are not held out."""

    model_config = ConfigDict(extra="ignore")
    split: str
    seed: int | None = None
    fraction: float | None = None
    fingerprint: str | None = None  # order-blind hash of those faces (train.data.faces_fingerprint); newer runs


class ModelContract(BaseModel):
    """Parsed sidecar; unknown extra keys are tolerated (newer converters may add some)."""

    model_config = ConfigDict(extra="ignore")
    format: str
    labels: list[str]
    input: TensorSpec
    output: OutputSpec
    preprocess: PreprocessSpec
    tflite_sha256: str
    fitted_splits: list[str] = ["train"]  # dataset splits the weights were fitted on (older sidecars: train)
    validation: ValidationSpec | None = None  # unknown in older sidecars
    mirror_average: bool = False  # the model itself averages each face with its mirror image (convert --mirror-average)
    mirror_symmetric: bool = False  # it answers a face and its mirror image alike (trained with --symmetry mirror)

    @property
    def mirror_built_in(self) -> str | None:
        """Why a run-time mirror pass would add nothing to this model, or None if it would."""
        if self.mirror_average:
            return "already averages each face with its mirror image (converted with --mirror-average)"
        if self.mirror_symmetric:
            return "answers a face and its mirror image alike (trained with --symmetry mirror)"
        return None

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value != CONTRACT_FORMAT:
            raise ValueError(f"unsupported format {value!r}, expected {CONTRACT_FORMAT!r}")
        return value


def sidecar_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def load_contract(model_path: Path, verify_hash: bool = True) -> ModelContract:
    """Read and check the sidecar of `model_path`; every problem is one EdgeError naming the file."""
    sidecar = sidecar_path(model_path)
    if not checked(f"model {model_path}", model_path.is_file):
        if model_path.is_dir():
            raise EdgeError(f"model {model_path}", "is a folder; give the .tflite file (its .json sidecar beside it)")
        raise EdgeError(f"model {model_path}", f"file not found ({MISSING_MODEL_HINT})")
    if not checked(f"model sidecar {sidecar}", sidecar.is_file):
        raise EdgeError(f"model sidecar {sidecar}", "file not found (it is written next to the .tflite by `python -m convert`)")
    try:
        contract = ModelContract.model_validate(json.loads(sidecar.read_text()))
    except OSError as exc:
        raise EdgeError(f"model sidecar {sidecar}", f"cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgeError(f"model sidecar {sidecar}", f"unreadable JSON ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise EdgeError(f"model sidecar {sidecar}", f"{where}: {first['msg']}") from None
    if len(contract.labels) != contract.output.shape[-1]:
        raise EdgeError(f"model sidecar {sidecar}", f"{len(contract.labels)} labels but output shape {contract.output.shape}")
    if verify_hash:
        try:
            actual = file_sha256(model_path)
        except OSError as exc:  # e.g. mode 0600 and owned by another user
            raise EdgeError(f"model {model_path}", f"cannot read ({exc.strerror or exc})") from None
        if actual != contract.tflite_sha256.lower():
            raise EdgeError(f"model {model_path}", f"sha256 {actual[:12]}... does not match its sidecar ({contract.tflite_sha256[:12]}...); corrupt or mismatched model")
    return contract
