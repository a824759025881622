import concurrent.futures
import logging
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import SourceConfig
from edge.demo import make_demo_frames
from edge.errors import EdgeError
from edge.sources import open_source, resolve_kind
from edge.sources.demo import DemoSource
from edge.sources.reconnect import SECONDS_PER_MINUTE, ReconnectingSource
from edge.types import Frame

VIDEO_FPS = 10  # the rate test clips are written at

class FlakySource:
    """Delivers `good` frames, then None (camera unplugged)."""

    def __init__(self, good: int):
        self.name, self.left, self.closed = "fake-camera", good, False

    def read(self):
        if self.left == 0:
            return None
        self.left -= 1
        return Frame(image=np.zeros((4, 4, 3), np.uint8), timestamp=time.time(), index=0, source=self.name)

    def close(self):
        self.closed = True


def test_reconnect_after_failure_with_backoff(caplog):
    opened = []
    failures = iter([True, True, False])  # two failed reopen attempts, then the camera is back

    def factory():
        if opened and next(failures):
            raise EdgeError("source fake", "cannot open camera")
        opened.append(FlakySource(good=3))
        return opened[-1]

    source = ReconnectingSource(factory, backoff_initial_s=0.01, backoff_max_s=0.02)
    assert not source.reconnecting
    with caplog.at_level(logging.INFO):
        frames = [source.read() for _ in range(6)]
    assert all(f is not None for f in frames)
    assert [f.index for f in frames] == list(range(6))  # indices continue across reconnects
    assert source.reconnects == 1 and opened[0].closed
    text = caplog.text
    assert "stopped delivering frames" in text and "reopen failed" in text and "reopened after 3 attempt(s)" in text


class ObservedCancel(threading.Event):
    """A cancel event that announces each backoff wait (`waiting`) and records its delay."""

    def __init__(self):
        super().__init__()
        self.waiting, self.delays = threading.Event(), []

    def wait(self, timeout=None):
        self.delays.append(timeout)
        self.waiting.set()
        return super().wait(timeout)


def test_reconnect_gives_up_and_cancel_interrupts_backoff():
    source = ReconnectingSource(lambda: FlakySource(0), backoff_initial_s=0.01, max_attempts=2, first=FlakySource(1))
    assert source.read() is not None
    assert source.read() is None  # end after max_attempts, no exception
    # An hour-long backoff: read() returns only if the cancel interrupts it (else pytest's timeout fails the test).
    cancel = ObservedCancel()
    slow = ReconnectingSource(lambda: FlakySource(0), backoff_initial_s=3600, backoff_max_s=3600, cancel=cancel,
                              first=FlakySource(0))
    seen = []

    def cancel_during_backoff():
        cancel.waiting.wait()
        try:
            seen.append((slow.reconnecting, slow.backing_off))
        finally:
            cancel.set()

    canceller = threading.Thread(target=cancel_during_backoff, daemon=True)
    canceller.start()
    assert slow.read() is None
    canceller.join()
    assert seen == [(True, True)]  # in backoff
    assert cancel.delays == [3600] and slow.reconnects == 0  # the first backoff was cut short, nothing reopened
    slow.close()
    assert not slow.reconnecting and not slow.backing_off


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_frame():
    opens = iter([False, False, False, True, False, True])  # camera back at the 4th attempt, then at the 2nd

    def factory():
        if not next(opens):
            raise EdgeError("source fake", "cannot open camera")
        return FlakySource(good=1)

    cancel = ObservedCancel()
    initial, cap = 0.001, 0.004
    source = ReconnectingSource(factory, backoff_initial_s=initial, backoff_max_s=cap, cancel=cancel,
                                first=FlakySource(good=1))
    assert all(source.read() is not None for _ in range(3))
    assert cancel.delays == [initial, 2 * initial, cap, cap, initial, 2 * initial]


def test_live_sources_reconnect_unless_told_not_to():
    stream = "rtsp://cam.local/stream"
    first = FlakySource(good=1)
    assert isinstance(open_source(SourceConfig(uri=stream), opened=first), ReconnectingSource)
    assert open_source(SourceConfig(uri=stream, reconnect=False), opened=first) is first
    assert open_source(SourceConfig(uri="demo", reconnect=True), opened=first) is first  # files and demo end


def test_backing_off_only_while_waiting_not_while_reopening():
    """The watchdog accepts the backoff wait, not a reopen (which may hang): the flag tells them apart."""
    states = []
    source = None

    def factory():
        states.append(("reopen", source.reconnecting, source.backing_off))
        return FlakySource(1)

    cancel = threading.Event()
    source = ReconnectingSource(factory, backoff_initial_s=0.01, cancel=cancel, first=FlakySource(1))
    assert source.read() is not None and not source.backing_off
    real_wait = cancel.wait

    def wait(timeout=None):
        states.append(("backoff", source.reconnecting, source.backing_off))
        return real_wait(timeout)

    cancel.wait = wait  # the real wait, observed
    assert source.read() is not None and not source.backing_off
    assert states == [("backoff", True, True), ("reopen", True, False)]


def write_video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), VIDEO_FPS, (640, 480))
    for image in frames:
        writer.write(image)
    writer.release()


def video_time_steps(frames) -> list[float]:
    return [b.timestamp - a.timestamp for a, b in zip(frames, frames[1:])]


def test_video_file_end_of_stream_and_loop(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, make_demo_frames(5))
    source = open_source(SourceConfig(uri=str(path)))
    assert resolve_kind(SourceConfig(uri=str(path))) == ("video", str(path))
    frames = list(iter(source.read, None))
    assert len(frames) == 5
    source.close()
    # stamped with the video's own time, however fast it is decoded: 1/fps apart
    assert video_time_steps(frames) == pytest.approx([1 / VIDEO_FPS] * 4, abs=1e-5)
    looped = open_source(SourceConfig(uri=str(path), loop=True))
    frames = [looped.read() for _ in range(12)]
    looped.close()
    assert all(frames) and video_time_steps(frames) == pytest.approx([1 / VIDEO_FPS] * 11, abs=1e-5)  # on across the loop


DEMO_TEST_FPS = 20.0
SLOW_READER_S = 0.5  # a reader this late has missed 10 frames of a 20 fps clip
WALL_CLOCK_SLACK_S = 0.5


def test_a_bounded_demo_runs_at_full_speed_in_clip_time():
    """However fast it is read, a bounded demo's frames are 1/fps apart in time and it ends with the clip."""
    source = open_source(SourceConfig(uri="demo", demo_frames=8, fps=DEMO_TEST_FPS))
    frames = list(iter(source.read, None))
    source.close()
    assert [frame.index for frame in frames] == list(range(8))
    assert video_time_steps(frames) == pytest.approx([1 / DEMO_TEST_FPS] * 7, abs=1e-5)
    assert abs(frames[0].timestamp - time.time()) < WALL_CLOCK_SLACK_S  # the clip starts now


def test_a_looping_demo_plays_in_real_time_and_skips_what_a_slow_reader_missed():
    """A looping demo is a live view: each frame waits for its moment, and after a slow read the clip jumps to
    the frame due now (as a camera drops frames), so its stamps keep to the wall clock; indices stay consecutive."""
    source = DemoSource(10, loop=True, fps=DEMO_TEST_FPS)
    started = time.monotonic()
    frames = [source.read() for _ in range(6)]
    assert time.monotonic() - started >= 5 / DEMO_TEST_FPS  # frame 5 is due 5/fps after frame 0
    assert min(video_time_steps(frames)) == pytest.approx(1 / DEMO_TEST_FPS, abs=1e-5)  # more if this test lagged
    time.sleep(SLOW_READER_S)
    late = source.read()
    assert late.index == 6 and late.timestamp - frames[-1].timestamp >= SLOW_READER_S
    assert abs(late.timestamp - time.time()) < WALL_CLOCK_SLACK_S
    more = [source.read() for _ in range(12)]  # on past the clip's end
    assert all(more) and min(video_time_steps(more)) >= 1 / DEMO_TEST_FPS - 1e-5


def test_image_folder_and_still_image(tmp_path, caplog):
    clip = make_demo_frames(3)
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), clip[i])
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING):
        folder = open_source(SourceConfig(uri=str(tmp_path)))
        names = [f.source for f in iter(folder.read, None)]
    assert names == ["folder:" + tmp_path.name + "/" + n for n in ("f0.png", "f1.png", "f2.png")]
    assert "broken.jpg" in caplog.text
    still = open_source(SourceConfig(uri=str(tmp_path / "f1.png")))
    assert np.array_equal(still.read().image, clip[1]) and still.read() is None
    again = open_source(SourceConfig(uri=str(tmp_path / "f1.png"), loop=True))
    assert all(again.read() is not None for _ in range(3))
    looped = open_source(SourceConfig(uri=str(tmp_path), loop=True))
    assert [looped.read().source.rsplit("/", 1)[1] for _ in range(4)] == ["f0.png", "f1.png", "f2.png", "f0.png"]


def test_folder_without_a_readable_image_is_one_line_error(emotion_model, tmp_path):
    from tests.edge.helpers import error_lines, run_edge

    folder = tmp_path / "pictures"
    folder.mkdir()
    for name in ("a.jpg", "b.png"):
        (folder / name).write_bytes(b"not an image")
    with pytest.raises(EdgeError, match="none of its 2 image file"):
        open_source(SourceConfig(uri=str(folder)))
    done = run_edge("--source", str(folder), "--model", str(emotion_model), "--detector", "haar", "--out",
                    str(tmp_path / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert error_lines(done.stderr) == [f"error: source {folder}: none of its 2 image file(s) is readable"]
    assert "summary:" not in done.stdout


@pytest.mark.parametrize("uri, problem", [
    ("/nonexistent/clip.mp4", "no such file"),
    ("/dev/video57", "cannot open camera"),
    ("57", "cannot open camera"),
])
def test_unopenable_sources(uri, problem):
    with pytest.raises(EdgeError, match=problem):
        open_source(SourceConfig(uri=uri))


def test_resolve_kinds(tmp_path):
    assert resolve_kind(SourceConfig()) == ("camera", "0")
    assert resolve_kind(SourceConfig(uri=0)) == ("camera", "0")
    assert resolve_kind(SourceConfig(uri="demo"))[0] == "demo"
    assert resolve_kind(SourceConfig(uri="rtsp://cam.local/stream"))[0] == "stream"
    assert resolve_kind(SourceConfig(uri="picamera2"))[0] == "picamera2"
    assert resolve_kind(SourceConfig(uri=str(tmp_path)))[0] == "folder"
    assert resolve_kind(SourceConfig(uri="x.JPG"))[0] == "image"
    stable = "/dev/v4l/by-id/usb-046d_HD_Webcam-video-index0"  # udev's name: not a video file, even when unplugged
    assert resolve_kind(SourceConfig(uri=stable)) == ("camera", stable)
    assert resolve_kind(SourceConfig(uri="/dev/video2")) == ("camera", "/dev/video2")
    assert resolve_kind(SourceConfig(uri="/dev/null"))[0] == "camera"  # a character device
    assert resolve_kind(SourceConfig(kind="video", uri="demo")) == ("video", "demo")  # a kind given is kept
    clip = Path("/dev/shm") / f"edge-test-{os.getpid()}.mp4"  # a RAM-disk file is a file
    if clip.parent.is_dir():
        write_video(clip, make_demo_frames(2))
        try:
            assert resolve_kind(SourceConfig(uri=str(clip)))[0] == "video"
        finally:
            clip.unlink()


def test_http_stream_source(tmp_path):
    import functools
    import http.server

    write_video(tmp_path / "clip.mp4", make_demo_frames(6))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{server.server_address[1]}/clip.mp4"
        assert resolve_kind(SourceConfig(uri=uri))[0] == "stream"
        source = open_source(SourceConfig(uri=uri, reconnect=False))
        assert len(list(iter(source.read, None))) == 6
        source.close()
        source = open_source(SourceConfig(uri=uri))  # reconnecting, as a stream is by default: a file still ends
        frames = list(iter(source.read, None))
        source.close()
        assert len(frames) == 6 and video_time_steps(frames) == pytest.approx([1 / VIDEO_FPS] * 5, abs=1e-5)
        looped = open_source(SourceConfig(uri=uri, loop=True))
        assert all(looped.read() is not None for _ in range(15))
        looped.close()
        with pytest.raises(EdgeError, match="cannot open stream"):
            open_source(SourceConfig(uri=uri.replace("clip", "missing")))
        secret = uri.replace("http://", "http://viewer:s3cret@")  # the password opens; it is never shown
        source = open_source(SourceConfig(uri=secret, reconnect=False))
        frame = source.read()
        source.close()
        assert source.name == frame.source == f"stream:{uri.replace('http://', 'http://viewer:***@')}"
        with pytest.raises(EdgeError, match="cannot open stream") as failed:
            open_source(SourceConfig(uri=secret.replace("clip", "missing")))
        assert "s3cret" not in str(failed.value) and "viewer:***@" in str(failed.value)
        in_query = f"{uri}?user=viewer&pwd=s3cret"  # many IP cameras take the password in the query
        source = open_source(SourceConfig(uri=in_query, reconnect=False))
        frame = source.read()
        source.close()
        assert frame is not None and source.name == frame.source == f"stream:{uri}?user=viewer&pwd=***"
    finally:
        server.shutdown()


class FakePicamera2:
    """Stands in for picamera2.Picamera2 (not installed here) with the calls PiCamera2Source makes; `fail` names
    the call that raises and `error` what it raises."""

    made: list = []
    fail: str | None = None
    stalled = False  # capture jobs never finish (the camera stopped delivering frames)
    pending_jobs = 0
    error: BaseException = RuntimeError("Camera frontend has timed out!")

    def __init__(self):
        self.calls = []
        FakePicamera2.made.append(self)

    def _call(self, name):
        self.calls.append(name)
        if name == self.fail:
            raise self.error

    def create_video_configuration(self, main, controls):
        self._call("create_video_configuration")
        return {"main": main, "controls": controls}

    def configure(self, config):
        self._call("configure")

    def start(self):
        self._call("start")

    def capture_array(self, stream, wait=None):
        """As picamera2's: the array, or with wait=False a job for wait() (here the array itself)."""
        self._call("capture_array")
        return np.zeros((4, 6, 4), np.uint8)  # XBGR8888: four channels

    def wait(self, job, timeout=None):
        """As picamera2's (job.get_result): a camera that stopped delivering frames never finishes the job; the
        wait ends only by its timeout (none: for ever)."""
        if self.stalled:
            self.pending_jobs += 1
            if not threading.Event().wait(timeout):
                raise concurrent.futures.TimeoutError()
        return job

    def cancel_all_and_flush(self):
        self._call("cancel_all_and_flush")
        self.pending_jobs = 0

    def _queue_behind_pending(self, name):
        """picamera2 runs stop() and close() as jobs of its event loop, behind any capture still pending."""
        if self.pending_jobs:
            raise AssertionError(f"{name}() queued behind a capture job that never finishes: it would wait for ever")

    def stop(self):
        self._queue_behind_pending("stop")
        self._call("stop")

    def close(self):
        self._queue_behind_pending("close")
        self._call("close")


@pytest.fixture
def picamera2(monkeypatch):
    """`from picamera2 import Picamera2` gives FakePicamera2; its class settings reset per test."""
    import sys
    import types

    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setattr(FakePicamera2, "made", [])
    monkeypatch.setattr(FakePicamera2, "fail", None)
    monkeypatch.setattr(FakePicamera2, "stalled", False)
    monkeypatch.setattr(FakePicamera2, "pending_jobs", 0)
    monkeypatch.setattr(FakePicamera2, "error", FakePicamera2.error)
    return FakePicamera2


def test_picamera2_opens_reads_and_releases_the_camera(picamera2):
    from edge.sources.picam import PiCamera2Source

    source = PiCamera2Source(6, 4, 10)
    frame = source.read()
    source.close()
    assert frame.image.shape == (4, 6, 3) and frame.source == "picamera2"
    assert picamera2.made[0].calls == ["create_video_configuration", "configure", "start", "capture_array", "stop",
                                       "close"]


def test_a_picamera2_that_stops_delivering_frames_fails_the_read_instead_of_waiting_for_ever(picamera2, monkeypatch,
                                                                                              caplog):
    """picamera2's blocking capture waited for ever for a stalled camera: the pipeline never saw a stop request
    (systemd then killed the service, and the store's queued events with it). Now the read fails after
    READ_TIMEOUT_S and the reconnect takes over."""
    import edge.sources.picam as picam

    monkeypatch.setattr(picam, "READ_TIMEOUT_S", 0.2)
    source = picam.PiCamera2Source(6, 4, 10)
    assert source.read() is not None
    picamera2.stalled = True
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG, logger="edge.sources.picam"):
        assert source.read() is None
    assert time.monotonic() - started < 0.2 + 5  # the old blocking capture returned never
    assert source.last_failure == "no frame within 0.2 s" and "no frame within 0.2 s" in caplog.text
    source.close()  # the fake's stop() and close() fail if the timed-out job were still queued before them
    assert picamera2.made[0].calls[-3:] == ["cancel_all_and_flush", "stop", "close"]


def test_an_older_picamera2_without_timed_waits_still_captures_blocking(picamera2, monkeypatch):
    """Before cancel_all_and_flush (and wait's timeout) came, the blocking capture is the only one there is."""
    import edge.sources.picam as picam

    monkeypatch.delattr(FakePicamera2, "cancel_all_and_flush")
    monkeypatch.setattr(FakePicamera2, "wait", lambda self, job: pytest.fail("wait() has no timeout here"))
    source = picam.PiCamera2Source(6, 4, 10)
    assert source.read() is not None
    source.close()


def test_a_failing_picamera2_gives_its_outage_one_warning_with_the_reason(picamera2, caplog):
    """Each failed capture used to log its own WARNING (one per reopen attempt, hundreds an hour in a long outage);
    now the outage's first line carries the reason, and the slow reminders name it, as for any live source."""
    import itertools

    from edge.sources.picam import PiCamera2Source

    minutes = itertools.count(0, 2 * SECONDS_PER_MINUTE)  # each clock reading two minutes on: reminders fall due
    source = ReconnectingSource(PiCamera2Source, backoff_initial_s=0.001, backoff_max_s=0.001, max_attempts=4,
                                clock=lambda: float(next(minutes)))
    assert source.read() is not None
    picamera2.fail = "capture_array"  # the camera stops answering, and every camera reopened fails the same way
    with caplog.at_level(logging.DEBUG):
        assert source.read() is None  # given up after max_attempts
    reason = "capture failed: Camera frontend has timed out!"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all(r.name == "edge.sources.reconnect" for r in warnings)
    assert reason in warnings[0].getMessage() and "stopped delivering frames" in warnings[0].getMessage()
    reminders = [r.getMessage() for r in warnings if "still reopening" in r.getMessage()]
    assert reminders and all(f"last: {reason}" in line for line in reminders)
    assert sum(reason in r.getMessage() for r in caplog.records if r.name == "edge.sources.picam") == 5  # DEBUG
    assert len(picamera2.made) == 5 and all(camera.calls[-1] == "close" for camera in picamera2.made)


def test_a_new_capture_failure_after_a_reopen_gets_one_warning_of_its_own(picamera2, caplog):
    """A reason new in this outage is worth a WARNING (as a new reopen-failure reason is); a repeat is DEBUG."""
    from edge.sources.picam import PiCamera2Source

    source = ReconnectingSource(PiCamera2Source, backoff_initial_s=0.001, backoff_max_s=0.001, max_attempts=4)
    assert source.read() is not None
    picamera2.fail = "capture_array"
    errors = iter([RuntimeError("Camera frontend has timed out!")] + [OSError("Device or resource busy")] * 9)
    real_capture = FakePicamera2.capture_array

    def capture(self, stream, wait=None):
        picamera2.error = next(errors)
        return real_capture(self, stream, wait)

    with caplog.at_level(logging.DEBUG), pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakePicamera2, "capture_array", capture)
        assert source.read() is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "(capture failed: Camera frontend has timed out!)" in warnings[0]
    assert warnings[1] == "picamera2: reopened, then capture failed: Device or resource busy"
    repeats = [r for r in caplog.records if "reopened, then" in r.getMessage() and r.levelno == logging.DEBUG]
    assert len(repeats) == 3  # the same reason on the three later reopens


def test_a_picamera2_that_fails_with_reconnect_off_ends_the_run_with_a_warning_naming_why(picamera2,
                                                                                          emotion_model, caplog):
    """Without the reconnecting wrapper nothing else reports the failed capture (DEBUG in the source): the
    pipeline's end-of-stream line is then a WARNING with the reason, not `end of stream` at INFO."""
    from edge.classifier import EmotionClassifier
    from edge.config import DetectorConfig
    from edge.detectors import make_detector
    from edge.pipeline import Pipeline
    from edge.tracking import Tracker

    camera = open_source(SourceConfig(uri="picamera2", reconnect=False))
    assert not isinstance(camera, ReconnectingSource)
    calls = iter([None, None, "capture_array"])  # two frames, then the camera stops answering
    real_capture = FakePicamera2.capture_array

    def capture(self, stream, wait=None):
        picamera2.fail = next(calls)
        return real_capture(self, stream, wait)

    pipeline = Pipeline(camera, make_detector(DetectorConfig(type="haar")), EmotionClassifier(emotion_model),
                        Tracker(), [])
    with caplog.at_level(logging.INFO), pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakePicamera2, "capture_array", capture)
        stats = pipeline.run()
    pipeline.close()
    assert stats.frames == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["picamera2 stopped: capture failed: Camera frontend has timed out! (source.reconnect is off)"]
    assert "end of stream" not in caplog.text


@pytest.mark.parametrize("error", [RuntimeError("Camera frontend has timed out!"), ValueError("not a camera error")])
def test_picamera2_close_releases_the_camera_when_stop_fails(picamera2, error):
    """stop() failing must not skip close(): a camera left acquired fails every later open ("Failed to acquire
    camera"). A camera error is logged; another error still propagates, after the close."""
    from edge.sources.picam import PiCamera2Source

    source = PiCamera2Source()
    picamera2.fail, picamera2.error = "stop", error
    if isinstance(error, RuntimeError):
        source.close()
    else:
        with pytest.raises(ValueError):
            source.close()
    assert picamera2.made[0].calls[-2:] == ["stop", "close"]


@pytest.mark.parametrize("fail", ["create_video_configuration", "configure", "start"])
@pytest.mark.parametrize("error", [RuntimeError("Failed to configure"), ValueError("bad size")])
def test_picamera2_that_cannot_start_is_closed_before_the_error(picamera2, fail, error):
    """A Picamera2() acquired but not started is closed again: a camera error is SourceUnavailable (the service
    waits for it), another error propagates as it is; either way the camera is released."""
    from edge.errors import SourceUnavailable
    from edge.sources.picam import PiCamera2Source

    picamera2.fail, picamera2.error = fail, error
    expected = SourceUnavailable if isinstance(error, RuntimeError) else ValueError
    with pytest.raises(expected, match=str(error)):
        PiCamera2Source()
    assert picamera2.made[0].calls[-2:] == [fail, "close"]


@pytest.mark.parametrize("uri, shown", [
    ("rtsp://admin:pw@cam/x", "rtsp://admin:***@cam/x"),
    ("http://cam/v.mjpg?user=admin&pwd=s3cret&res=640", "http://cam/v.mjpg?user=admin&pwd=***&res=640"),
    ("http://cam/x?user=a;Password=s3cret", "http://cam/x?user=a;Password=***"),
    ("http://cam/cgi?loginuse=admin&loginpas=s3cret", "http://cam/cgi?loginuse=admin&loginpas=***"),
    ("http://cam/x?p%77d=s3cret", "http://cam/x?p%77d=***"),
    ("http://[::1]:8080/v?api_key=s3cret&token=", "http://[::1]:8080/v?api_key=***&token="),
    ("http://cam/x?pwd=ab#cd", "http://cam/x?pwd=***"),  # an unencoded '#' in the password: its tail goes too
    ("http://cam/x?keyframe=1&monkey=2&author=3&signal=4&bypass=5", None),  # not secrets
    ("HTTP://Cam/x?", None), ("clip?.mp4", None), ("/dev/video0", None), ("0", None),
])
def test_shown_uri_hides_passwords_and_nothing_else(uri, shown):
    from edge.sources.opencv import shown_uri

    assert shown_uri(uri) == (uri if shown is None else shown)


def test_a_folder_given_as_one_image_is_named_a_folder_not_missing(tmp_path):
    from edge.sources.images import read_image

    with pytest.raises(EdgeError, match="a folder, not an image file") as caught:
        read_image(tmp_path)
    assert caught.value.thing == f"image {tmp_path}"
    with pytest.raises(EdgeError, match="file not found"):
        read_image(tmp_path / "missing.jpg")


def test_a_stop_ends_a_looping_demos_wait_for_its_next_frame():
    """At a time-lapse rate (a frame every 20 s) a stop request must not wait out the frame's time."""
    cancel = threading.Event()
    source = open_source(SourceConfig(uri="demo", loop=True, fps=0.05, demo_frames=3, width=160, height=120), cancel)
    assert source.read() is not None  # frame 0 is due at once
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    assert source.read() is None
    assert time.monotonic() - started < 5.0


def test_a_camera_device_this_user_may_not_use_says_so(tmp_path, monkeypatch):
    """The usual case on a fresh Raspberry Pi OS user: /dev/video0 exists but the user is not in the video group.
    The tests run as root, whom no mode denies, so the permission check answers as for another user."""
    from edge.sources import opencv

    device = tmp_path / "video0"
    device.write_bytes(b"")
    real_access = os.access
    monkeypatch.setattr(opencv.os, "access", lambda path, mode: Path(path) != device and real_access(path, mode))
    problem = opencv.camera_problem(str(device))
    assert f"Permission denied on {device}" in problem and "usermod -aG video" in problem
    assert opencv.camera_problem(str(tmp_path / "video9")) == "cannot open camera (no such device or busy)"


BROKEN_PICAMERA2 = {  # what a broken install's import raises, as a package on sys.path that raises it
    "numpy ABI": ('raise ValueError("numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from '
                  'C header, got 88 from PyObject")', "ValueError: numpy.dtype size changed"),
    "libcamera missing": ("import libcamera_not_here", "ModuleNotFoundError: No module named 'libcamera_not_here'"),
    "multi-line message": ('raise ImportError("numpy.core.multiarray failed to import\\n\\nsecond line")',
                           "ImportError: numpy.core.multiarray failed to import)"),
}


@pytest.mark.parametrize("case", BROKEN_PICAMERA2)
def test_a_picamera2_that_fails_to_import_is_one_line_naming_the_cause(case, tmp_path, monkeypatch):
    import sys

    from edge.sources.picam import PiCamera2Source

    body, cause = BROKEN_PICAMERA2[case]
    package = tmp_path / "picamera2"
    package.mkdir()
    (package / "__init__.py").write_text(body + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    with pytest.raises(EdgeError) as caught:
        PiCamera2Source()
    line = caught.value.one_line()
    assert line.startswith("error: source picamera2: picamera2 is installed but fails to import ("), line
    assert cause in line and "numpy<2" in line and "second line" not in line and "\n" not in line, line


def test_picamera2_absent_says_how_to_install_it(tmp_path, monkeypatch):
    import sys

    from edge.sources.picam import NOT_IMPORTABLE, PiCamera2Source

    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site-packages" not in p and "dist-packages" not in p]
                        + [str(tmp_path)])
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    with pytest.raises(EdgeError) as caught:
        PiCamera2Source()
    assert caught.value.problem == NOT_IMPORTABLE
