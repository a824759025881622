"""The edge runtime's interpreter (edge.litert), with its errors reported the conversion stage's way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convert.errors import ConvertError
from edge.errors import EdgeError
from edge.litert import load_interpreter as edge_load_interpreter


def load_interpreter(model_path: Path, num_threads: int = 1, plain_ops: bool = False) -> Any:
    try:
        return edge_load_interpreter(model_path, num_threads, plain_ops)
    except EdgeError as exc:
        raise ConvertError(model_path, exc.problem) from None
