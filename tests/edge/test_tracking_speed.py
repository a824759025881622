"""The centre-distance gate grows with the time between frames: one face seen at a slow frame rate keeps one id,
while a face far away (or a quick jump between close frames) is still a new track."""

import numpy as np

from edge.classifier import EmotionClassifier
from edge.config import DetectorConfig, TrackingConfig
from edge.demo import make_demo_frames
from edge.detectors import make_detector
from edge.pipeline import Pipeline
from edge.tracking import MAX_CENTRE_GATE, Tracker
from edge.types import Box, Frame, Prediction

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SIDE = 100  # px, the face box side in the synthetic moves
CLIP_FPS = 30.0  # the demo clip's own rate
SLOW_STEP = 8  # every 8th clip frame: about 3.75 frames a second, a Pi with Haar on a large frame
CLIP_FRAMES = 240  # two full cycles of the demo's motion path


def flat() -> Prediction:
    return Prediction(LABELS, np.full(len(LABELS), 1 / len(LABELS), np.float32))


def shifted(box: Box, sides: float) -> Box:
    dx = int(round(sides * SIDE))
    return Box(box.x1 + dx, box.y1, box.x2 + dx, box.y2)


def ids_after_jump(sides: float, seconds: float, tracking: TrackingConfig | None = None) -> tuple[int, int]:
    tracker = Tracker(tracking)
    start = Box(100, 100, 100 + SIDE, 100 + SIDE)
    first = tracker.update([start], [flat()], 10.0)[0].track_id
    second = tracker.update([shifted(start, sides)], [flat()], 10.0 + seconds)[0].track_id
    return first, second


def test_a_slow_frame_rate_stretches_the_gate():
    first, second = ids_after_jump(0.9, 0.2)  # 0.9 box sizes in 0.2 s: 4.5 sides/s, under centre_speed
    assert first == second


def test_the_same_jump_between_close_frames_is_a_new_face():
    first, second = ids_after_jump(0.9, 1 / CLIP_FPS)  # 27 sides/s: no face moves like that
    assert first != second


def test_the_gate_never_passes_its_cap():
    first, second = ids_after_jump(MAX_CENTRE_GATE + 0.3, 5.0)
    assert first != second


def test_centre_speed_zero_keeps_the_per_frame_gate():
    first, second = ids_after_jump(0.9, 0.2, TrackingConfig(centre_speed=0.0))
    assert first != second


def test_a_track_missed_at_a_steady_rate_keeps_the_per_frame_gate():
    """At 30 fps, A walks out (9 frames with no face), and B comes in 1.9 box sizes away: B is a new track, with
    its own label, not A's id and smoothed emotion."""
    tracker = Tracker()
    start = Box(100, 100, 100 + SIDE, 100 + SIDE)
    for frame in range(30):
        first = tracker.update([start], [flat()], frame / CLIP_FPS)[0].track_id
    for frame in range(30, 39):
        tracker.update([], [], frame / CLIP_FPS)
    assert tracker.update([shifted(start, 1.9)], [flat()], 39 / CLIP_FPS)[0].track_id != first


def test_followed_boxes_do_not_count_as_seeing_the_face():
    """detect_every 2 at 4 fps: the follower held the box in place at t=0.25 (the face moved too far for it);
    the gate at the next detection covers the half second since the face was detected, not the quarter since."""
    for followed_counts, same_expected in ((False, True), (True, False)):
        tracker = Tracker()
        start = Box(100, 100, 100 + SIDE, 100 + SIDE)
        first = tracker.update([start], [flat()], 10.0)[0].track_id
        tracker.update([start], [flat()], 10.25, detected=followed_counts)
        second = tracker.update([shifted(start, 1.9)], [flat()], 10.5)[0].track_id
        assert (first == second) is same_expected


def test_without_timestamps_the_gate_stays_per_frame():
    tracker = Tracker()
    start = Box(100, 100, 100 + SIDE, 100 + SIDE)
    first = tracker.update([start], [flat()])[0].track_id
    assert tracker.update([shifted(start, 0.9)], [flat()])[0].track_id != first


def test_the_demo_face_at_a_slow_rate_keeps_one_id_through_the_pipeline(emotion_model):
    """Haar on every 8th frame of the demo clip, stamped at the clip's own rate: the face moves about 0.6 of its
    detected size between two of those frames at the fastest point of its path (one id per pass before)."""
    clip = make_demo_frames(CLIP_FRAMES)
    pipeline = Pipeline(source=None, detector=make_detector(DetectorConfig(type="haar")),
                        classifier=EmotionClassifier(emotion_model), tracker=Tracker())
    ids: set[int] = set()
    for index in range(0, CLIP_FRAMES, SLOW_STEP):
        frame = Frame(image=clip[index], timestamp=index / CLIP_FPS, index=index, source="demo")
        ids |= {face.track_id for face in pipeline.step(frame).faces}
    assert len(ids) == 1
