"""Fixtures shared by every test folder: the repository, the interpreter, the shipped emotion model."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = REPO / "models" / "emotion_int8.tflite"
# Override only for local development with another model; CI uses the shipped one.
MODEL_OVERRIDE_ENV = "EDGE_TEST_MODEL"


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def emotion_model() -> Path:
    """The shipped int8 model with its sidecar (or $EDGE_TEST_MODEL)."""
    path = Path(os.environ.get(MODEL_OVERRIDE_ENV) or SHIPPED_MODEL)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        pytest.skip(f"emotion model {path} (+ .json sidecar) absent: run `python -m convert` first")
    return path
