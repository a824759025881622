"""Keep optional TensorFlow imports out of the edge process.

mediapipe imports tensorflow opportunistically when it is installed (docs helpers, GFile);
on a workstation that costs seconds and hundreds of MB. The edge never needs it.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

BLOCKED_TOP_LEVEL = ("tensorflow", "keras", "tf_keras")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 - importlib signature
        if fullname.split(".")[0] in BLOCKED_TOP_LEVEL:
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
