"""A path this user may not look at (EACCES: pathlib's is_file/is_dir/exists raise then) is one `error:` line and
exit 2 through `python -m edge`'s entry function, never a traceback. The tests run as root, so `deny_access`
(tests/conftest.py) makes the kernel calls refuse; a control run first shows the same paths work without it."""

from __future__ import annotations

import shutil

import cv2

from edge.demo import make_demo_frames
from tests.edge.helpers import main_in_process

DENIED = "cannot access (Permission denied)"
UNREADABLE = "cannot read (Permission denied)"


def copy_model(model, folder):  # noqa: ANN001, ANN201 - Paths
    folder.mkdir()
    dest = folder / model.name
    shutil.copy(model, dest)
    shutil.copy(model.with_suffix(".json"), dest.with_suffix(".json"))
    return dest


def assert_one_line(result, expected: str) -> None:  # noqa: ANN001 - (exit code, stderr)
    code, err = result
    assert code == 2, err
    assert err.strip().splitlines() == [expected], err


def test_sources_in_a_folder_this_user_may_not_enter(emotion_model, deny_access, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    locked, unlisted = tmp_path / "locked", tmp_path / "unlisted"
    locked.mkdir()
    unlisted.mkdir()
    clip = make_demo_frames(2)
    for folder in (locked, unlisted):
        cv2.imwrite(str(folder / "face.png"), clip[0])
    writer = cv2.VideoWriter(str(locked / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, clip[0].shape[1::-1])
    for image in clip:
        writer.write(image)
    writer.release()
    common = ["--model", str(emotion_model), "--detector", "haar", "--headless", "--max-frames", "1", "--out",
              str(tmp_path / "out")]
    for uri in (locked / "clip.mp4", locked / "face.png", unlisted):
        assert main_in_process(["--source", str(uri), *common], monkeypatch, capsys)[0] == 0  # control
    deny_access(locked)
    deny_access(unlisted)  # may be entered (stat), not listed
    for uri in (locked / "clip.mp4", locked / "face.png", unlisted, locked):
        assert_one_line(main_in_process(["--source", str(uri), *common], monkeypatch, capsys),
                        f"error: source {uri}: {DENIED}")
    photo = ["photo", str(locked / "face.png"), "--model", str(emotion_model), "--detector", "haar"]
    assert_one_line(main_in_process(photo, monkeypatch, capsys), f"error: image {locked / 'face.png'}: {DENIED}")


def test_model_this_user_may_not_read(emotion_model, deny_access, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    in_locked = copy_model(emotion_model, tmp_path / "locked")
    private_tflite = copy_model(emotion_model, tmp_path / "tflite-0600")
    private_sidecar = copy_model(emotion_model, tmp_path / "sidecar-0600")
    relative = in_locked.relative_to(tmp_path)  # resolve_data_path looks for a relative one in two places

    def run(model) -> tuple[int, str]:  # noqa: ANN001 - Path
        return main_in_process(["--model", str(model), "--source", "demo", "--detector", "haar", "--headless",
                                "--max-frames", "1", "--out", str(tmp_path / "out")], monkeypatch, capsys)

    for model in (in_locked, relative, private_tflite, private_sidecar):
        assert run(model)[0] == 0  # control
    deny_access(tmp_path / "locked")
    deny_access(private_tflite)
    deny_access(private_sidecar.with_suffix(".json"))
    assert_one_line(run(in_locked), f"error: model {in_locked}: {DENIED}")
    assert_one_line(run(relative), f"error: model {relative}: {DENIED}")
    assert_one_line(run(private_tflite), f"error: model {private_tflite}: {UNREADABLE}")
    assert_one_line(run(private_sidecar), f"error: model sidecar {private_sidecar.with_suffix('.json')}: {UNREADABLE}")


def test_face_model_in_a_folder_this_user_may_not_enter(emotion_model, deny_access, monkeypatch, capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    face = locked / "face_detection_short_range.tflite"
    face.write_bytes(b"a face model this user cannot see")
    deny_access(locked)
    for detector in ("auto", "mediapipe"):  # auto looks for the file to choose; mediapipe needs it
        args = ["--model", str(emotion_model), "--source", "demo", "--detector", detector,
                "--detector.mediapipe.model", str(face), "--headless", "--out", str(tmp_path / "out")]
        assert_one_line(main_in_process(args, monkeypatch, capsys), f"error: face model {face}: {DENIED}")
