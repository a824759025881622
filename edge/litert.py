"""The one place that creates a LiteRT interpreter: ai-edge-litert, or tflite-runtime on older Pi images.

Never TensorFlow: the edge side and the evaluator must run where TensorFlow is not installed."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from edge.errors import EdgeError
from edge.native_stderr import native_stderr_logged


def interpreter_module() -> ModuleType:
    try:
        import ai_edge_litert.interpreter as module
    except ImportError:
        try:
            import tflite_runtime.interpreter as module  # older Raspberry Pi OS images
        except ImportError:
            raise EdgeError("ai-edge-litert", "not installed (pip install ai-edge-litert)") from None
    return module


def load_interpreter(model_path: Path, num_threads: int = 1, plain_ops: bool = False) -> Any:
    """An allocated interpreter. plain_ops=True skips the default XNNPACK delegate, so the op list shows
    the model's own kernels instead of one opaque DELEGATE node. What LiteRT's C++ code prints on stderr meanwhile
    (`INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`) is logged instead (edge.native_stderr): stderr is
    for our one-line errors."""
    module = interpreter_module()
    kwargs: dict[str, Any] = {"model_path": str(model_path), "num_threads": num_threads}
    if plain_ops and hasattr(module, "OpResolverType"):
        kwargs["experimental_op_resolver_type"] = module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        with native_stderr_logged(f"LiteRT interpreter for {model_path}"):
            interpreter = module.Interpreter(**kwargs)
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise EdgeError(f"model {model_path}", f"cannot be loaded by LiteRT ({' '.join(str(exc).split())})") from None
    return interpreter
