"""The whole pipeline headless on the synthetic astronaut clip, with both detectors."""

import json


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
                        Tracker(cfg.tracking, cfg.smoothing), [events, recorder], detect_every=every)
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
    pipeline = Pipeline(DemoSource(20), det, EmotionClassifier(emotion_model), Tracker(), [recorder], detect_every=4)
    stats = pipeline.run()
    assert len(calls) == 5 and stats.faces >= 19 and len(stats.track_ids) == 1
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
