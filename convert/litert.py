"""The edge runtime's interpreter (ai-edge-litert, or tflite_runtime on older Pi images); no TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convert.errors import ConvertError


def _interpreter_module() -> Any:
    try:
        import ai_edge_litert.interpreter as module
    except ImportError:
        try:
            import tflite_runtime.interpreter as module  # older Raspberry Pi OS images
        except ImportError:
            raise ConvertError("ai-edge-litert", "not installed (pip install ai-edge-litert)") from None
    return module


def load_interpreter(model_path: Path, num_threads: int = 1, plain_ops: bool = False) -> Any:
    """An allocated interpreter. plain_ops=True skips the default XNNPACK delegate, so the op list shows
    the model's own kernels instead of one opaque DELEGATE node."""
    module = _interpreter_module()
    kwargs: dict[str, Any] = {"model_path": str(model_path), "num_threads": num_threads}
    if plain_ops and hasattr(module, "OpResolverType"):
        kwargs["experimental_op_resolver_type"] = module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        interpreter = module.Interpreter(**kwargs)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ConvertError(model_path, f"cannot be loaded by LiteRT ({' '.join(str(exc).split())})") from None
    return interpreter
