"""The whole pipeline headless on the synthetic astronaut clip, with both detectors."""

import json
import threading
import time
import tracemalloc

import cv2
import numpy as np

from edge.classifier import EmotionClassifier
from edge.config import DetectorConfig, RunConfig
from edge.demo import make_demo_frames
from edge.detectors import make_detector
from edge.pipeline import Pipeline
from edge.sinks.base import BaseSink
from edge.sinks.events import JsonlEventSink
from edge.sources.demo import DemoSource
from edge.tracking import Tracker, iou

CLIP_FRAMES = 60
NO_OUTAGE = float("inf")  # demo frames carry wall-clock stamps: a stalled test machine is no camera outage


class Recorder(BaseSink):
    def __init__(self):
        self.results = []

    def write(self, result):
        self.results.append(result)


def run_clip(detector_type, emotion_model, tmp_path, faces=1, every=1, frames=CLIP_FRAMES, face_model=None):
    cfg = RunConfig()
    det_cfg = DetectorConfig(type=detector_type, every=every)
    if face_model is not None:
        det_cfg.mediapipe.model = face_model
    recorder = Recorder()
    events = JsonlEventSink(tmp_path / "events.jsonl", interval_s=0.0)
    pipeline = Pipeline(DemoSource(frames, faces=faces), make_detector(det_cfg), EmotionClassifier(emotion_model),
                        Tracker(cfg.tracking, cfg.smoothing), [events, recorder], detect_every=every,
                        max_gap_s=NO_OUTAGE)
    stats = pipeline.run()
    pipeline.close()
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    return stats, recorder.results, lines


def check_single_face_run(stats, results, lines):
    clip = make_demo_frames(CLIP_FRAMES)
    assert stats.frames == CLIP_FRAMES
    found = [r for r in results if len(r.faces) == 1]
    assert len(found) >= 0.95 * CLIP_FRAMES
    assert len({f.track_id for r in results for f in r.faces}) == 1  # one stable id
    for r in found:
        face = r.faces[0]
        truth = clip.boxes(r.frame.index)[0]
        assert iou(face.box, truth) > 0.2  # on the pasted face crop, not the clutter
        assert face.label in face.smoothed.labels
        assert abs(float(face.smoothed.probs.sum()) - 1.0) < 1e-3
    # the astronaut smiles: a working model, crop and preprocessing show "happy" for most of the clip
    shown = [r.faces[0].label for r in found]
    assert shown.count("happy") >= 0.8 * len(shown), f"labels shown: {sorted(set(shown))}"
    assert len(lines) == stats.faces  # interval 0: one line per face per frame
    first = lines[0]
    assert set(first) == {"ts", "track_id", "box", "label", "confidence", "probs", "source"}
    assert first["source"] == "demo" and len(first["box"]) == 4 and len(first["probs"]) == 7
    assert first["label"] in first["probs"]


def test_pipeline_haar(emotion_model, tmp_path):
    check_single_face_run(*run_clip("haar", emotion_model, tmp_path))


def test_pipeline_mediapipe(emotion_model, face_model, tmp_path):
    check_single_face_run(*run_clip("mediapipe", emotion_model, tmp_path, face_model=face_model))


def test_three_faces_three_ids(emotion_model, tmp_path):
    stats, results, _ = run_clip("haar", emotion_model, tmp_path, faces=3, frames=30)
    assert sum(len(r.faces) == 3 for r in results) >= 25
    assert len({f.track_id for r in results for f in r.faces}) == 3


def test_detect_every_n_reuses_tracked_boxes(emotion_model, tmp_path):
    calls = []
    det = make_detector(DetectorConfig(type="haar"))
    original = det.detect
    det.detect = lambda image: calls.append(1) or original(image)
    recorder = Recorder()
    pipeline = Pipeline(DemoSource(20), det, EmotionClassifier(emotion_model), Tracker(), [recorder], detect_every=4,
                        max_gap_s=NO_OUTAGE)
    stats = pipeline.run()
    assert len(calls) == 5 and stats.faces >= 19 and stats.tracks == 1
    clip = make_demo_frames(20)
    # in-between boxes follow the moving face (held boxes would drift off it)
    held_boxes = [r.faces[0].box for r in recorder.results if r.frame.index % 4 == 3]
    followed = [iou(b, clip.boxes(i)[0]) for b, i in zip(held_boxes, (3, 7, 11, 15, 19))]
    detected = [iou(r.faces[0].box, clip.boxes(r.frame.index)[0]) for r in recorder.results if r.frame.index % 4 == 0]
    assert min(followed) > 0.8 * min(detected)


def test_box_follower_tracks_motion():
    from edge.motion import BoxFollower

    clip = make_demo_frames(30)
    follower = BoxFollower()
    follower.remember(clip[10])
    box = clip.boxes(10)[0]
    for i in range(11, 14):
        box = follower.follow(clip[i], [box])[0]
    truth, start = clip.boxes(13)[0], clip.boxes(10)[0]
    moved = abs(truth.x1 - start.x1) + abs(truth.y1 - start.y1)
    assert moved > 10  # the face did move ...
    assert abs((box.x1 + box.x2) - (truth.x1 + truth.x2)) / 2 + abs((box.y1 + box.y2) - (truth.y1 + truth.y2)) / 2 < moved / 2


def test_limits_and_stop(emotion_model):
    make = lambda: Pipeline(DemoSource(50, loop=True), make_detector(DetectorConfig(type="haar")),
                            EmotionClassifier(emotion_model), Tracker(), [], max_frames=7)
    assert make().run().frames == 7
    pipeline = make()
    pipeline.max_frames = None

    class StopAfter(BaseSink):
        def write(self, result):
            if result.frame.index == 2:
                pipeline.request_stop()

    pipeline.add_sink(StopAfter())
    stats = pipeline.run()
    assert stats.frames == 3
    assert "frames=3" in stats.summary() and "detect=" in stats.summary()

    class ClosedWindow(BaseSink):  # a sink whose should_stop hook asks to end the run (a window closed)
        def write(self, result) -> None:
            return None

        def should_stop(self) -> bool:
            return True

    asked = make()  # still bounded by max_frames: a broken hook fails the test, not pytest's timeout
    asked.add_sink(ClosedWindow())
    assert asked.run().frames == 1


def write_mixed_size_folder(folder):
    """Name order: the astronaut in a 1280x720 frame, a 160x120 thumbnail, then two 640x480 demo frames."""
    from skimage import data

    folder.mkdir()
    astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    wide = np.full((720, 1280, 3), 90, np.uint8)
    wide[:, 560:] = cv2.resize(astronaut, (720, 720))
    cv2.imwrite(str(folder / "0_wide.png"), wide)
    cv2.imwrite(str(folder / "1_thumb.png"), cv2.resize(astronaut, (160, 120)))
    clip = make_demo_frames(2)
    cv2.imwrite(str(folder / "2_demo.png"), clip[0])
    cv2.imwrite(str(folder / "3_demo.png"), clip[1])
    return folder


def test_every_photo_of_a_folder_is_a_new_scene_even_with_detect_every(emotion_model, tmp_path):
    from edge.sources.images import FolderSource

    det = make_detector(DetectorConfig(type="haar"))
    original, calls = det.detect, []
    det.detect = lambda image: calls.append(image.shape) or original(image)
    recorder = Recorder()
    source = FolderSource(write_mixed_size_folder(tmp_path / "mixed"))
    pipeline = Pipeline(source, det, EmotionClassifier(emotion_model), Tracker(), [recorder], detect_every=2)
    stats = pipeline.run()  # the thumbnail, an in-between frame, used to crash cropping the wide frame's boxes
    assert stats.frames == 4
    # frames 1 and 3 are skipped ones, but each photo is another scene (size or file): all are detected
    assert calls == [(720, 1280, 3), (120, 160, 3), (480, 640, 3), (480, 640, 3)]
    faces = [r.faces for r in recorder.results]
    assert [len(f) for f in faces] == [1, 0, 1, 1]
    for result in recorder.results:
        height, width = result.frame.image.shape[:2]
        assert all(0 <= f.box.x1 < f.box.x2 <= width and 0 <= f.box.y1 < f.box.y2 <= height for f in result.faces)
    assert faces[0][0].box.x1 >= 560  # the face in the wide frame, not elsewhere
    assert len({faces[i][0].track_id for i in (0, 2, 3)}) == 3  # two photos of one size: still two people
    assert stats.tracks == 3


class TimedClip:
    """The demo clip with chosen timestamps (a camera that stalls), or blank frames."""

    name = "camera:test"

    def __init__(self, timestamps, blank=False):
        self.clip, self.timestamps, self.blank, self.index = make_demo_frames(len(timestamps)), timestamps, blank, 0

    def read(self):
        from edge.types import Frame

        if self.index >= len(self.timestamps):
            return None
        image = np.zeros_like(self.clip[0]) if self.blank else self.clip[self.index]
        frame = Frame(image=image, timestamp=self.timestamps[self.index], index=self.index, source=self.name)
        self.index += 1
        return frame

    def close(self):
        pass


def test_a_camera_outage_starts_new_tracks(emotion_model):
    """Whoever stands there after a 10-minute outage is not the person tracked before it."""
    recorder = Recorder()
    stamps = [100.0 + i / 30 for i in range(10)] + [700.0 + i / 30 for i in range(10)]
    pipeline = Pipeline(TimedClip(stamps), make_detector(DetectorConfig(type="haar")), EmotionClassifier(emotion_model),
                        Tracker(), [recorder], max_gap_s=2.0)
    stats = pipeline.run()
    before = {f.track_id for r in recorder.results[:10] for f in r.faces}
    after = {f.track_id for r in recorder.results[10:] for f in r.faces}
    assert len(before) == len(after) == 1 and before != after and stats.tracks == 2
    steady = Pipeline(TimedClip(stamps[:10] + [s - 598.0 for s in stamps[10:]]), make_detector(DetectorConfig(type="haar")),
                      EmotionClassifier(emotion_model), Tracker(), [], max_gap_s=2.0)
    assert steady.run().tracks == 1  # the same frames 1.7 s apart: one track


def test_detect_every_n_holds_with_nobody_in_view(emotion_model):
    calls = []
    det = make_detector(DetectorConfig(type="haar"))
    original = det.detect
    det.detect = lambda image: calls.append(1) or original(image)
    pipeline = Pipeline(TimedClip([i / 30 for i in range(30)], blank=True), det, EmotionClassifier(emotion_model),
                        Tracker(), [], detect_every=5)
    assert pipeline.run().faces == 0 and len(calls) == 6  # frames 0, 5, ..., 25


def test_box_follower_clips_boxes_and_drops_those_outside_the_frame():
    from edge.motion import BoxFollower
    from edge.types import Box

    clip = make_demo_frames(2)
    height, width = clip[0].shape[:2]
    follower = BoxFollower()
    follower.remember(clip[0])
    straddling, outside = Box(width - 100, 100, width + 300, 400), Box(width + 10, 10, width + 200, 200)
    followed = follower.follow(clip[1], [clip.boxes(0)[0], straddling, outside])
    assert len(followed) == 2 and iou(followed[0], clip.boxes(1)[0]) > 0.5
    assert 0 <= followed[1].x1 < followed[1].x2 <= width and followed[1].y2 <= height
    thumbnail = cv2.resize(clip[1], (160, 120))  # another size: nothing to match against, boxes only clipped
    followed = follower.follow(thumbnail, [Box(100, 50, 300, 200, 0.9), Box(175, 66, 435, 353)])
    assert followed == [Box(100, 50, 160, 120, 0.9)]



def test_box_follower_holds_a_box_whose_content_is_gone():
    """A cut to another scene (or a hand over the face): nothing matches well, so the box stays where it was
    instead of jumping to the least bad match until the next detection."""
    from edge.motion import BoxFollower
    from edge.types import Box

    rng = np.random.default_rng(7)
    before, after = (rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(2))
    follower = BoxFollower()
    follower.remember(before)
    box = Box(200, 150, 360, 330, 0.9)
    assert follower.follow(after, [box]) == [box]


STATS_FRAMES = 50_000
STATS_GROWTH_LIMIT_BYTES = 64 * 1024  # a set of STATS_FRAMES track ids takes megabytes


def test_run_stats_count_tracks_in_constant_memory():
    from edge.pipeline import RECENT_FRAMES, RunStats
    from edge.types import Box, FaceResult, Frame, FrameResult, Prediction

    image = np.zeros((8, 8, 3), np.uint8)
    prediction = Prediction(("happy", "sad"), np.array([0.75, 0.25], np.float32))

    def frame(index, *track_ids):
        faces = [FaceResult(Box(0, 0, 4, 4), track, prediction, prediction, "happy") for track in track_ids]
        return FrameResult(Frame(image, 0.0, index), faces, {"detect": 1.0})

    stats = RunStats()
    for index, ids in enumerate([(1,), (1, 2), (4, 3), (2, 4), ()]):  # two new in one frame, in any order
        stats.record(frame(index, *ids))
    assert stats.tracks == 4 and stats.faces == 7
    for index in range(RECENT_FRAMES):  # fill the bounded window of recent timings first
        stats.record(frame(index, 4))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index in range(STATS_FRAMES):  # tracking off: a new track id in every frame, for months
            stats.record(frame(index, 5 + index))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < STATS_GROWTH_LIMIT_BYTES, f"RunStats grew by {grown} bytes over {STATS_FRAMES} frames"
    assert stats.tracks == 4 + STATS_FRAMES and f"tracks={4 + STATS_FRAMES} " in stats.summary()


class UnpluggedCamera:
    """The demo clip for a few frames, then nothing, like a camera pulled out of its socket."""

    name = "camera:test"

    def __init__(self, frames):
        self._inner = DemoSource(frames)

    def read(self):
        return self._inner.read()

    def close(self):
        self._inner.close()


DURATION_S = 1.0
DELIVERED_FRAMES = 3
RUN_TIMEOUT_S = 60  # far beyond DURATION_S: only a run that ignores the deadline reaches it


def test_duration_ends_the_run_while_the_camera_reconnects(emotion_model, caplog):
    from edge.errors import EdgeError
    from edge.sources.reconnect import ReconnectingSource

    def reopen():
        raise EdgeError("source camera:test", "cannot open camera (no such device or busy)")

    stop = threading.Event()  # as in build_pipeline: the pipeline's stop event is the source's cancel event
    source = ReconnectingSource(reopen, backoff_initial_s=3600, backoff_max_s=3600, cancel=stop,
                                first=UnpluggedCamera(DELIVERED_FRAMES))
    pipeline = Pipeline(source, make_detector(DetectorConfig(type="haar")), EmotionClassifier(emotion_model), Tracker(),
                        [], duration=DURATION_S, stop_event=stop)
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(pipeline.run()), daemon=True)
    started = time.monotonic()
    with caplog.at_level("INFO"):
        runner.start()
        runner.join(RUN_TIMEOUT_S)
    try:
        assert not runner.is_alive(), "--duration ignored while the camera is reconnecting"
    finally:
        stop.set()  # frees a hung run (the failing case), so pytest can exit
        pipeline.close()
    assert DURATION_S <= time.monotonic() - started < RUN_TIMEOUT_S
    assert outcome[0].frames == DELIVERED_FRAMES and source.reconnects == 0
    assert "stopping: --duration 1.0 s reached" in caplog.text and "stop requested" not in caplog.text


LATE_CALLBACK_S = 0.3  # the deadline timer's callback still running this long after run() returned
QUICK_FRAMES = 1
SECOND_RUN_FRAMES = 5
SHORT_DURATION_S = 1.0


class WaitsForTheTimer:
    """The looping demo clip; after QUICK_FRAMES frames a read waits until the deadline timer has woken, so the
    loop sees the deadline itself (its time check) while the timer's callback is still running."""

    name = "demo"

    def __init__(self, woke: threading.Event):
        self._inner, self._woke, self._reads = DemoSource(50, loop=True), woke, 0

    def read(self):
        self._reads += 1
        if self._reads > QUICK_FRAMES:
            assert self._woke.wait(RUN_TIMEOUT_S), "the deadline timer never woke"
        return self._inner.read()

    def close(self):
        self._inner.close()


def test_a_deadline_timer_that_already_woke_does_not_stop_the_next_run(emotion_model):
    """timer.cancel() does not stop a timer thread that already woke: run() waits for it, so its stop_event.set()
    cannot land after run() returned (the next run() then returned at once, with no frame)."""
    woke, finished = threading.Event(), threading.Event()
    pipeline = Pipeline(WaitsForTheTimer(woke), make_detector(DetectorConfig(type="haar")),
                        EmotionClassifier(emotion_model), Tracker(), [], duration=SHORT_DURATION_S)
    on_time = pipeline._end_of_duration

    def late():
        woke.set()
        time.sleep(LATE_CALLBACK_S)
        on_time()
        finished.set()

    pipeline._end_of_duration = late  # the timer looks it up when run() starts it
    try:
        first = pipeline.run().frames
        assert first > QUICK_FRAMES
        assert finished.wait(RUN_TIMEOUT_S)
        assert not pipeline.stop_event.is_set(), "the deadline timer stopped the pipeline after run() returned"
        pipeline.duration, pipeline.max_frames = None, first + SECOND_RUN_FRAMES
        assert pipeline.run().frames == first + SECOND_RUN_FRAMES
    finally:
        pipeline.close()


def test_a_stop_request_just_before_the_deadline_clear_is_kept(emotion_model):
    """A request_stop (SIGTERM) landing between run()'s `_stop_requested` check and its stop_event.clear() after
    the deadline stays requested: the next run() returns at once."""

    class StopBeforeClear(threading.Event):
        def clear(self):
            pipeline.request_stop()  # the signal handler, run just before the clear
            super().clear()

    pipeline = Pipeline(DemoSource(50, loop=True), make_detector(DetectorConfig(type="haar")),
                        EmotionClassifier(emotion_model), Tracker(), [], duration=SHORT_DURATION_S,
                        stop_event=StopBeforeClear())
    try:
        first = pipeline.run().frames
        assert pipeline.stop_event.is_set(), "the stop request was lost"
        pipeline.duration, pipeline.max_frames = None, first + SECOND_RUN_FRAMES  # bounded should it run
        assert pipeline.run().frames == first
    finally:
        pipeline.close()


def test_a_sink_with_only_write_and_close_runs_and_reports(emotion_model, caplog):
    """should_stop and describe are optional hooks: a sink that is not a BaseSink still works."""

    class PlainSink:
        def __init__(self) -> None:
            self.written = 0

        def write(self, result) -> None:
            self.written += 1

        def close(self) -> None:
            self.closed = True

    sink = PlainSink()
    pipeline = Pipeline(DemoSource(50, loop=True), make_detector(DetectorConfig(type="haar")),
                        EmotionClassifier(emotion_model), Tracker(), [sink], max_frames=3)
    with caplog.at_level("INFO", logger="edge.pipeline"):
        stats = pipeline.run()
        pipeline.log_results(stats)
    pipeline.close()
    assert stats.frames == sink.written == 3 and sink.closed
    assert "frames=3" in caplog.text


def test_a_frame_of_another_size_from_the_same_source_is_a_new_scene():
    """A camera reopened at another resolution: the old tracks' boxes do not fit the new frames."""
    from edge.pipeline import scene_change
    from edge.types import Frame

    small, large = np.zeros((480, 640, 3), np.uint8), np.zeros((720, 1280, 3), np.uint8)
    before = Frame(small, timestamp=1.0, index=0, source="camera:0")
    assert scene_change(before, Frame(small, timestamp=1.1, index=1, source="camera:0"), NO_OUTAGE) is None
    change = scene_change(before, Frame(large, timestamp=1.1, index=1, source="camera:0"), NO_OUTAGE)
    assert change is not None and change[0] == "size"


def test_an_empty_box_from_a_detector_is_dropped_not_classified(emotion_model):
    from edge.types import Box

    class EmptyBoxToo:
        """A detector that also reports a box of no width (a face clipped away at the frame border)."""

        def __init__(self) -> None:
            self.real = make_detector(DetectorConfig(type="haar"))

        def detect(self, image):
            return [Box(0, 10, 0, 60), *self.real.detect(image)]

        def close(self) -> None:
            self.real.close()

    recorder = Recorder()
    pipeline = Pipeline(DemoSource(3), EmptyBoxToo(), EmotionClassifier(emotion_model), Tracker(), [recorder])
    assert pipeline.run().frames == 3
    assert all(len(r.faces) == 1 and r.faces[0].box.width > 0 for r in recorder.results)


def test_a_time_lapse_video_is_one_scene_not_an_outage_per_frame(emotion_model, tmp_path):
    """A real video file at 0.25 fps: its frames are 4 s apart in the clip's time, which is no camera outage."""
    from edge.sources.opencv import CaptureSource

    clip, path = make_demo_frames(12), tmp_path / "slow.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 0.25, clip[0].shape[1::-1])
    for image in clip:
        writer.write(image)
    writer.release()
    source = CaptureSource(str(path), "video")
    assert source.fps == 0.25
    pipeline = Pipeline(source, make_detector(DetectorConfig(type="haar")), EmotionClassifier(emotion_model),
                        Tracker(), [], max_gap_s=2.0)
    stats = pipeline.run()
    pipeline.close()
    assert stats.frames == 12 and stats.faces >= 11 and stats.tracks == 1
