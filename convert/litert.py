"""The edge runtime's interpreter (edge.litert), with its errors reported the conversion stage's way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convert.errors import ConvertError
from edge.contract import sidecar_path
from edge.errors import EdgeError
from edge.litert import load_interpreter as edge_load_interpreter


def blamed_path(exc: EdgeError, model_path: Path) -> Path | str:
    """What an edge error about `model_path` is about: the sidecar or the model when it names one of them
    (edge.contract, edge.classifier and edge.litert say `model sidecar <path>`, `model <path>`), else its own
    thing as is (e.g. `ai-edge-litert` when LiteRT is not installed)."""
    sidecar = sidecar_path(model_path)
    named = {f"model sidecar {sidecar}": sidecar, f"model {model_path}": model_path}
    return named.get(exc.thing, exc.thing)


def load_interpreter(model_path: Path, num_threads: int = 1, plain_ops: bool = False) -> Any:
    try:
        return edge_load_interpreter(model_path, num_threads, plain_ops)
    except EdgeError as exc:
        raise ConvertError(blamed_path(exc, model_path), exc.problem) from None
