"""Keep optional TensorFlow imports out of the edge process.

mediapipe imports tensorflow opportunistically when it is installed (docs helpers, GFile);
on a workstation that costs seconds and hundreds of MB. The edge never needs it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

BLOCKED_TOP_LEVEL = ("tensorflow", "keras", "tf_keras")
# mediapipe's own imports that the edge never uses (python -m edge.bench measured ~1.2 s and ~40 MB for them):
MEDIAPIPE_BLOCKED = ("sounddevice",)  # tasks.python.audio imports it inside try/except ImportError
MEDIAPIPE_DEFERRED = ("matplotlib", "matplotlib.pyplot")  # vision.drawing_utils imports pyplot at top level


class _Blocker(importlib.abc.MetaPathFinder):
    def __init__(self, names: tuple[str, ...] = BLOCKED_TOP_LEVEL) -> None:
        self.names = names

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 - importlib signature
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"{fullname} is blocked in the edge runtime", name=fullname)
        return None


@contextmanager
def tensorflow_blocked() -> Iterator[None]:
    """While active, `import tensorflow`/`keras` raise ModuleNotFoundError (if not already imported)."""
    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)


class _DeferredModule(types.ModuleType):
    """Stands in for a module during one import; the real module is imported on first attribute use."""

    def __getattr__(self, name: str):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


@contextmanager
def mediapipe_import() -> Iterator[None]:
    """tensorflow_blocked, plus sounddevice blocked and matplotlib.pyplot deferred, for `import mediapipe`."""
    stubs = {name: _DeferredModule(name) for name in MEDIAPIPE_DEFERRED if name not in sys.modules}
    if len(stubs) == len(MEDIAPIPE_DEFERRED):
        stubs["matplotlib"].pyplot = stubs["matplotlib.pyplot"]  # `import matplotlib.pyplot as plt` stays lazy
    blocker = _Blocker(MEDIAPIPE_BLOCKED)
    sys.modules.update(stubs)
    sys.meta_path.insert(0, blocker)
    try:
        with tensorflow_blocked():
            yield
    finally:
        sys.meta_path.remove(blocker)
        for name, stub in stubs.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]
