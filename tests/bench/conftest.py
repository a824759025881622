"""The benchmark uses the edge tests' face model; the emotion model fixture is tests/conftest.py's."""

from tests.edge.conftest import face_model  # noqa: F401 - re-exported fixture
