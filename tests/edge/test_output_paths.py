"""Two outputs at one path, or the events log appended to a binary file, are refused before anything is written
(edge.output_paths): they used to destroy each other and exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import RunConfig
from edge.errors import EdgeError
from edge.output_paths import check_output_files
from edge.commands.run import build_sinks


def config(tmp_path: Path, **sections: dict) -> RunConfig:
    return RunConfig.model_validate({"output": {"dir": str(tmp_path), **sections.pop("output", {})}, **sections})


def test_the_store_on_the_events_log_is_refused_before_either_is_opened(tmp_path: Path) -> None:
    cfg = config(tmp_path, output={"events_file": "events.db"}, store={"enabled": True})
    with pytest.raises(EdgeError) as raised:
        build_sinks(cfg, window=False)
    assert raised.value.one_line() == (f"error: store.path {tmp_path / 'events.db'}: the same file as "
                                       "output.events_file; give each output its own file")
    assert list(tmp_path.iterdir()) == []  # nothing opened, nothing written


def test_the_video_on_the_store_through_a_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "media")
    cfg = config(tmp_path, output={"video": str(tmp_path / "alias/run.mkv")},
                 store={"enabled": True, "path": str(tmp_path / "media/run.mkv")})
    with pytest.raises(EdgeError, match=r"^output\.video .*: the same file as store\.path; "):
        check_output_files(cfg)


def test_the_events_log_is_not_appended_to_a_model_file(tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    cfg = config(tmp_path, output={"events_file": "model.tflite"})
    with pytest.raises(EdgeError, match="exists and is not a text log"):
        build_sinks(cfg, window=False)
    assert model.read_bytes() == b"\x1c\x00\x00\x00TFL3" + bytes(64)


def test_distinct_outputs_and_an_existing_log_are_fine(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text('{"ts": 1.0}\n')
    cfg = config(tmp_path, output={"video": str(tmp_path / "run.mkv")}, store={"enabled": True})
    check_output_files(cfg)  # events.jsonl, events.db and run.mkv: three files


def test_a_store_that_cannot_be_opened_leaves_no_empty_events_log(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cfg = config(tmp_path / "out", store={"enabled": True, "path": str(blocker / "events.db")})
    with pytest.raises(EdgeError, match=r"^store .*: cannot create folder"):
        build_sinks(cfg, window=False)
    assert not (tmp_path / "out").exists()  # the events log's folder was not made either


def test_a_log_torn_by_a_power_cut_is_appended_to_not_refused(tmp_path: Path) -> None:
    """A power cut can leave NUL bytes after the last line: the log is still a log (the sink goes on after its
    torn line). Only known binary formats are refused."""
    log = tmp_path / "events.jsonl"
    log.write_bytes(b'{"ts": 1.0}\n' + bytes(300))
    check_output_files(config(tmp_path))
    for head in (b"SQLite format 3\x00", b"PK\x03\x04", b"\x00\x00\x00\x18ftypmp42"):
        log.write_bytes(head + bytes(64))
        with pytest.raises(EdgeError, match="exists and is not a text log"):
            check_output_files(config(tmp_path))


def test_an_events_log_writable_in_place_needs_no_writable_folder(tmp_path: Path) -> None:
    """/dev/stdout, or a log kept in a folder this user may not write: written in place (found with a device here,
    since the tests run as root, for whom every folder is writable)."""
    cfg = config(tmp_path, output={"events_file": "/dev/null"})
    check_output_files(cfg)
    assert list(tmp_path.iterdir()) == []


def test_a_store_on_a_rotated_log_name_or_a_hard_link_is_refused(tmp_path: Path) -> None:
    """A rotation renames events.jsonl over events.jsonl.1: a store there would be replaced; a hard link is one
    file under two names."""
    cfg = config(tmp_path, store={"enabled": True, "path": str(tmp_path / "events.jsonl.2")})
    with pytest.raises(EdgeError, match=r"^store\.path .*events\.jsonl\.2: the same file as output\.events_file"):
        check_output_files(cfg)
    video = tmp_path / "run.mkv"
    video.write_bytes(b"")
    (tmp_path / "alias.mkv").hardlink_to(video)
    cfg = config(tmp_path, output={"video": str(video)}, store={"enabled": True, "path": str(tmp_path / "alias.mkv")})
    with pytest.raises(EdgeError, match="the same file as store.path"):
        check_output_files(cfg)


@pytest.mark.parametrize("video, problem", [
    ("run.xyz", r"unsupported container \('\.xyz'\)"),
    ("clip.mp4", "is the source video itself"),
    ("folder.mkv", "is a folder"),
], ids=["container", "source", "folder"])
def test_an_output_video_that_could_never_be_written_is_refused_creating_nothing(tmp_path: Path, video: str,
                                                                                 problem: str) -> None:
    """Checked with the other outputs, before the service waits for its camera and by --check-config; before, only
    the video sink checked it, when the camera appeared (hours later, and then systemd kept the service down)."""
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    (tmp_path / "folder.mkv").mkdir()
    cfg = config(tmp_path / "out", output={"video": str(tmp_path / video)}, source={"uri": str(tmp_path / "clip.mp4")})
    with pytest.raises(EdgeError, match=f"^output video {tmp_path / video}: {problem}"):
        check_output_files(cfg)
    assert not (tmp_path / "out").exists()


def test_a_video_writable_in_place_in_a_folder_that_is_not_is_refused(tmp_path: Path, monkeypatch) -> None:
    """The sink writes a probe file beside the video: the folder must take files, as check_output requires."""
    import os

    folder = tmp_path / "vid"
    folder.mkdir()
    (folder / "run.mp4").write_bytes(b"")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == folder else real_access(p, mode, **kw))
    cfg = config(tmp_path / "out", output={"video": str(folder / "run.mp4")})
    with pytest.raises(EdgeError, match=f"^output video {folder / 'run.mp4'}: cannot write"):
        check_output_files(cfg)
