"""Media files `python -m edge` cannot use, as a user meets them: an image over OpenCV's pixel limit, files this
user may not read, an output video path that cannot be written. Each is one `error:` line and exit 2 before the
first frame (or, inside a folder, a skipped file with a warning), never a traceback or OpenCV's own warnings.

The tests run as root, whom file modes deny nothing: the runs that must meet a denied file drop the capabilities
that override them (setpriv), so the kernel refuses as it would refuse another user."""

from __future__ import annotations

import os
import pwd
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.demo import make_demo_frames
from edge.errors import EdgeError
from tests.edge.helpers import REPO, edge_env, error_lines, run_edge

OVERSIZED = (60000, 60000)  # 3.6e9 pixels: over OpenCV's CV_IO_MAX_IMAGE_PIXELS (2**30)
TOO_LARGE = "too large (over OpenCV's limit of 1073741824 pixels, set by OPENCV_IO_MAX_IMAGE_PIXELS)"
DENIED = "cannot access (Permission denied)"
PNG_IHDR = slice(12, 29)  # the IHDR chunk's type and data, which its CRC covers
PNG_SIZE = slice(16, 24)  # width, height (big-endian uint32) in IHDR
PNG_CRC = slice(29, 33)
ODD_SIZE = (301, 201)  # width, height: the codec takes even sides only
DROP_FILE_OVERRIDES = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                       "--bounding-set=-dac_override,-dac_read_search"]
FOREIGN_USER = "nobody"


def write_oversized_png(path: Path, size: tuple[int, int] = OVERSIZED) -> Path:
    """A valid 2x2 PNG whose header claims `size` (a decompression bomb's header; 70 bytes on disk)."""
    ok, encoded = cv2.imencode(".png", np.zeros((2, 2, 3), np.uint8))
    assert ok
    data = bytearray(encoded.tobytes())
    assert data[PNG_IHDR][:4] == b"IHDR"
    data[PNG_SIZE] = struct.pack(">II", *size)
    data[PNG_CRC] = struct.pack(">I", zlib.crc32(bytes(data[PNG_IHDR])))
    path.write_bytes(bytes(data))
    return path


def demo_image(path: Path, index: int = 0, size: tuple[int, int] | None = None) -> Path:
    image = make_demo_frames(index + 1)[index]
    cv2.imwrite(str(path), image if size is None else cv2.resize(image, size))
    return path


def unprivileged() -> list[str]:
    """The command prefix that makes a run meet file modes as an ordinary user does (nothing when not root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root without setpriv: cannot run without the rights that override file modes")
    return DROP_FILE_OVERRIDES


def give_away(path: Path, mode: int) -> Path:
    """`path` with `mode`, owned by another user when we are root (else ours: with no read/write bit, the same)."""
    if os.geteuid() == 0:
        user = pwd.getpwnam(FOREIGN_USER)
        os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(path, mode)
    return path


def run_unprivileged(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*unprivileged(), sys.executable, "-m", "edge", *args], cwd=REPO, env=edge_env(),
                          capture_output=True, text=True, timeout=60)


def assert_one_line(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert error_lines(done.stderr) == [expected], done.stderr
    assert "Traceback" not in done.stderr and "[ WARN" not in done.stderr, done.stderr  # nor OpenCV's warnings
    assert "summary:" not in done.stdout


def run_args(emotion_model: Path, tmp_path: Path) -> list[str]:
    return ["--model", str(emotion_model), "--detector", "haar", "--headless", "--out", str(tmp_path / "out")]


def test_an_image_over_opencvs_pixel_limit_is_named_not_a_traceback(tmp_path):
    from edge.sources.images import read_image

    bomb = write_oversized_png(tmp_path / "bomb.png")
    with pytest.raises(EdgeError) as caught:
        read_image(bomb)
    assert (caught.value.thing, caught.value.problem) == (f"image {bomb}", TOO_LARGE)
    done = run_edge("photo", str(bomb), "--out", str(tmp_path / "photo"))
    assert_one_line(done, f"error: image {bomb}: {TOO_LARGE}")


def test_an_oversized_image_alone_is_an_error_and_in_a_folder_is_skipped(emotion_model, tmp_path):
    """The docs promise a folder skips the files it cannot read: the run goes on with the others. Its odd-sized
    images keep their last row and column in the annotated video (padded to even sides, not cropped)."""
    bomb = write_oversized_png(tmp_path / "bomb.png")
    assert_one_line(run_edge("--source", str(bomb), *run_args(emotion_model, tmp_path)),
                    f"error: image {bomb}: {TOO_LARGE}")
    folder = tmp_path / "pictures"
    folder.mkdir()
    demo_image(folder / "a.jpg", 0, ODD_SIZE)
    shutil.copy(bomb, folder / "b.png")
    demo_image(folder / "c.jpg", 1, ODD_SIZE)
    video = tmp_path / "folder.mp4"
    done = run_edge("--source", str(folder), "--video", str(video), *run_args(emotion_model, tmp_path))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert f"WARNING edge.sources.images: skipping image {folder / 'b.png'}: {TOO_LARGE}" in done.stdout
    assert "summary: frames=2 " in done.stdout
    capture = cv2.VideoCapture(str(video))
    try:
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        assert size == (ODD_SIZE[0] + 1, ODD_SIZE[1] + 1) and capture.get(cv2.CAP_PROP_FRAME_COUNT) == 2
    finally:
        capture.release()


def test_a_folder_of_no_usable_image_says_why_in_one_line(tmp_path, caplog):
    """Each skipped file is a warning with its reason (OpenCV's own `[ WARN ... imread_` lines stay silent); the
    folder's error counts the reasons when they differ."""
    import logging

    from edge.config import SourceConfig
    from edge.sources import open_source

    write_oversized_png(tmp_path / "a.png")
    (tmp_path / "b.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "c.jpg").mkdir()  # a folder named like an image
    with caplog.at_level(logging.WARNING), pytest.raises(EdgeError) as caught:
        open_source(SourceConfig(uri=str(tmp_path)))
    assert caught.value.problem == (f"none of its 3 image file(s) is readable: 1 {TOO_LARGE}; "
                                    "1 unreadable or not an image; 1 not a file")
    assert [record.getMessage() for record in caplog.records] == [
        f"skipping image {tmp_path / 'a.png'}: {TOO_LARGE}",
        f"skipping image {tmp_path / 'b.jpg'}: unreadable or not an image",
        f"skipping image {tmp_path / 'c.jpg'}: not a file"]


def test_files_this_user_may_not_read_say_permission_denied(emotion_model, tmp_path):
    """Another user's mode-0600 image, video or folder of images: `cannot access (Permission denied)`, not
    "unreadable or not an image" / "cannot decode", and none of OpenCV's `imread_` warnings."""
    image = give_away(demo_image(tmp_path / "secret.jpg"), 0o600)
    clip = tmp_path / "secret.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 480))
    for frame in make_demo_frames(3):
        writer.write(frame)
    writer.release()
    give_away(clip, 0o600)
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index, name in enumerate(("a.jpg", "b.png")):
        give_away(demo_image(folder / name, index), 0o600)
    common = run_args(emotion_model, tmp_path)
    assert_one_line(run_unprivileged("photo", str(image), "--out", str(tmp_path / "photo")),
                    f"error: image {image}: {DENIED}")
    assert_one_line(run_unprivileged("--source", str(image), *common), f"error: image {image}: {DENIED}")
    assert_one_line(run_unprivileged("--source", str(clip), *common), f"error: source {clip}: {DENIED}")
    done = run_unprivileged("--source", str(folder), *common)
    assert_one_line(done, f"error: source {folder}: none of its 2 image file(s) is readable: {DENIED}")
    for name in ("a.jpg", "b.png"):
        assert f"skipping image {folder / name}: {DENIED}" in done.stdout


def test_an_output_video_that_cannot_be_written_is_refused_before_the_first_frame(emotion_model, tmp_path):
    """A link into a folder that does not exist, or another user's read-only file in a sticky shared folder (like
    /tmp): the folder takes files, but the file itself cannot be opened. Refused before any frame or event."""
    links = tmp_path / "links"
    links.mkdir()
    dangling = links / "link.mp4"
    dangling.symlink_to(tmp_path / "nonexistent" / "dir" / "x.mp4")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    theirs = shared / "theirs.mp4"
    theirs.write_bytes(b"their video")
    give_away(theirs, 0o444)
    cases = [(dangling, f"cannot write (No such file or directory: a link to {tmp_path}/nonexistent/dir/x.mp4)"),
             (theirs, "cannot write (Permission denied)")]
    for video, problem in cases:
        out = tmp_path / f"out-{video.stem}"
        done = run_unprivileged("--source", "demo", "--video", str(video), "--model", str(emotion_model),
                                "--detector", "haar", "--headless", "--out", str(out))
        assert_one_line(done, f"error: output video {video}: {problem}")
        assert "first frame processed" not in done.stdout
        events = out / "events.jsonl"
        assert not events.exists() or events.read_text() == ""  # no event of a run that could not record
    assert dangling.is_symlink() and not dangling.exists() and theirs.read_bytes() == b"their video"


@pytest.mark.parametrize("suffix, kind", [(".jpg", "JPEG"), (".png", "PNG")])
def test_a_photo_cut_short_is_named_truncated_not_classified_grey_filled(emotion_model, tmp_path, suffix, kind):
    """cv2.imread hands back a cut-short JPEG with its missing part grey, after libjpeg's own stray stderr line: photo
    then reported "no faces" (advice about face size) and a folder source classified the grey; the web view's
    upload already said "truncated or corrupt". Now every path says it, in one line naming the file."""
    whole = tmp_path / f"whole{suffix}"
    cv2.imwrite(str(whole), cv2.resize(make_demo_frames(1)[0], (960, 720)))
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    refused = run_edge("photo", str(cut), "--out", str(tmp_path / "photo"))
    assert_one_line(refused, f"error: image {cut}: truncated or corrupt {kind} data")
    assert refused.stderr.count("\n") == 1  # nor libjpeg's `Premature end of JPEG file`
    folder = tmp_path / "pictures"
    folder.mkdir()
    shutil.copy(cut, folder / f"a{suffix}")
    shutil.copy(whole, folder / f"b{suffix}")
    done = run_edge("--source", str(folder), *run_args(emotion_model, tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"skipping image {folder / f'a{suffix}'}: truncated or corrupt {kind} data" in done.stdout
    assert done.stderr == ""
