"""edge.config.load_config: every unusable --config file is one EdgeError naming the file, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import DEFAULT_EMOTION_MODEL, DEFAULT_FACE_MODEL, RunConfig, load_config
from edge.errors import EdgeError


@pytest.mark.parametrize("content, problem", [
    (b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00", "not a UTF-8 text file (expected YAML)"),
    ("source: {uri: d\u00e9mo}\n".encode("latin-1"), "not a UTF-8 text file (expected YAML)"),
    (b"source:\n  uri: demo\x00\n", "invalid YAML"),
    (b"- just\n- a list\n", "top level must be a mapping"),
], ids=["binary", "latin-1", "nul-byte", "not-a-mapping"])
def test_unusable_config_file_is_one_edge_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "edge.yaml"
    path.write_bytes(content)
    with pytest.raises(EdgeError) as caught:
        load_config(path)
    assert caught.value.thing == f"config {path}"
    assert caught.value.problem.startswith(problem)
    assert len(caught.value.one_line().splitlines()) == 1


def test_utf8_config_with_non_ascii_text_loads(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("output: {dir: sortie-\u00e9t\u00e9}\n", encoding="utf-8")
    assert load_config(path).output.dir == Path("sortie-\u00e9t\u00e9")


def test_model_defaults_come_from_one_place() -> None:
    from edge.bench import cli as bench_cli
    from edge.classifier import DEFAULT_MODEL
    from edge.fetch_detector import DEFAULT_DEST

    config = RunConfig()
    assert config.classifier.model == DEFAULT_MODEL == bench_cli.DEFAULT_MODEL == DEFAULT_EMOTION_MODEL
    assert config.detector.mediapipe.model == DEFAULT_DEST == bench_cli.DEFAULT_FACE_MODEL == DEFAULT_FACE_MODEL
