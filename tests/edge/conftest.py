"""Fixtures for the edge tests: shipped models, the fetched face model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.edge.helpers import FACE_MODEL


@pytest.fixture(scope="session")
def face_model() -> Path:
    """The BlazeFace model; fetched with `python -m edge.fetch_detector` if missing (needs PyPI access)."""
    if not FACE_MODEL.is_file():
        from edge.errors import EdgeError
        from edge.fetch_detector import fetch

        try:
            fetch(FACE_MODEL)
        except EdgeError as exc:
            pytest.skip(f"face model {FACE_MODEL} absent and fetch failed: {exc.one_line()}")
    return FACE_MODEL


@pytest.fixture
def model_copy(emotion_model: Path, tmp_path: Path) -> Path:
    """A private copy of the emotion model and sidecar, safe to corrupt."""
    dest = tmp_path / "model" / emotion_model.name
    dest.parent.mkdir()
    shutil.copy(emotion_model, dest)
    shutil.copy(emotion_model.with_suffix(".json"), dest.with_suffix(".json"))
    return dest
