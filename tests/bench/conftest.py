"""The benchmark uses the same models as the edge tests (EDGE_TEST_MODEL overrides the shipped one)."""

from tests.edge.conftest import emotion_model, face_model  # noqa: F401 - re-exported fixtures
