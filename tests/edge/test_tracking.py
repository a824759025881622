import numpy as np

from edge.config import SmoothingConfig, TrackingConfig
from edge.smoothing import ema, hysteresis_label
from edge.tracking import Tracker, centre_distance, iou
from edge.types import Box, Prediction

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def pred(**probs: float) -> Prediction:
    p = np.full(len(LABELS), 0.0, np.float32)
    for name, value in probs.items():
        p[LABELS.index(name)] = value
    rest = (1.0 - p.sum()) / max(1, (p == 0).sum())
    p[p == 0] = rest
    return Prediction(LABELS, p)


def test_iou_and_centre_distance():
    a = Box(0, 0, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, Box(5, 0, 15, 10)) == 50 / 150
    assert iou(a, Box(20, 20, 30, 30)) == 0.0
    assert centre_distance(a, Box(10, 0, 20, 10)) == 1.0


def test_ids_stable_while_moving_and_new_id_for_new_face():
    tracker = Tracker()
    ids = []
    for step in range(20):
        x = 100 + 6 * step
        faces = tracker.update([Box(x, 100, x + 80, 180)], [pred(happy=0.8)])
        ids.append(faces[0].track_id)
    assert set(ids) == {ids[0]}
    faces = tracker.update([Box(214, 100, 294, 180), Box(500, 300, 580, 380)], [pred(happy=0.8), pred(sad=0.9)])
    assert faces[0].track_id == ids[0] and faces[1].track_id != ids[0]


def test_centre_fallback_matches_fast_small_jump():
    before, after = Box(100, 100, 160, 160), Box(140, 100, 200, 160)
    assert iou(before, after) == 0.2 and round(centre_distance(before, after), 2) == 0.67
    # moved 40 px: IoU 0.2 (< threshold 0.3), so only the centre fallback can match; 0.67 > 0.6 -> a new id ...
    tight = Tracker(TrackingConfig(iou_threshold=0.3, centre_distance=0.6))
    first = tight.update([before], [pred(sad=0.9)])[0].track_id
    second = tight.update([after], [pred(sad=0.9)])[0].track_id
    assert second != first and second == first + 1
    # ... and the same id with a looser limit
    loose = Tracker(TrackingConfig(iou_threshold=0.3, centre_distance=0.8))
    l0 = loose.update([before], [pred(sad=0.9)])[0].track_id
    assert loose.update([after], [pred(sad=0.9)])[0].track_id == l0


def test_track_survives_missed_frames_then_expires():
    tracker = Tracker(TrackingConfig(max_missed=2))
    tid = tracker.update([Box(0, 0, 50, 50)], [pred(fear=0.9)])[0].track_id
    tracker.update([], [])
    tracker.update([], [])
    assert tracker.update([Box(2, 0, 52, 50)], [pred(fear=0.9)])[0].track_id == tid
    for _ in range(3):
        tracker.update([], [])
    assert tracker.update([Box(2, 0, 52, 50)], [pred(fear=0.9)])[0].track_id != tid


def test_smoothing_and_hysteresis_prevent_flicker():
    tracker = Tracker(smoothing=SmoothingConfig(alpha=0.35, hysteresis=0.1))
    box = Box(0, 0, 60, 60)
    shown = []
    for step in range(30):  # raw prediction alternates between two near-tied labels
        p = pred(happy=0.5, neutral=0.4) if step % 2 == 0 else pred(happy=0.4, neutral=0.5)
        shown.append(tracker.update([box], [p])[0].label)
    assert set(shown) == {"happy"}
    for _ in range(15):  # a clear, lasting change does switch
        shown.append(tracker.update([box], [pred(sad=0.9)])[0].label)
    assert shown[-1] == "sad"
    raw = Tracker(smoothing=SmoothingConfig(enabled=False))
    labels = [raw.update([box], [pred(happy=0.5, neutral=0.4) if s % 2 == 0 else pred(happy=0.4, neutral=0.5)])[0].label
              for s in range(4)]
    assert labels == ["happy", "neutral", "happy", "neutral"]


def test_ema_and_hysteresis_functions():
    assert np.allclose(ema(None, np.array([1.0, 0.0]), 0.5), [1.0, 0.0])
    assert np.allclose(ema(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.25), [0.75, 0.25])
    probs = np.array([0.45, 0.55])
    assert hysteresis_label("a", probs, ("a", "b"), 0.2) == "a"
    assert hysteresis_label("a", probs, ("a", "b"), 0.05) == "b"
    assert hysteresis_label(None, probs, ("a", "b"), 0.2) == "b"


def test_two_faces_never_share_a_track_id():
    """The second face is within the centre distance of the track the first one took by overlap: it gets its own."""
    tracker = Tracker(TrackingConfig(iou_threshold=0.3, centre_distance=2.0))
    first = tracker.update([Box(100, 100, 160, 160)], [pred(sad=0.9)])[0].track_id
    faces = tracker.update([Box(105, 100, 165, 160), Box(170, 100, 230, 160)], [pred(sad=0.9), pred(happy=0.9)])
    assert faces[0].track_id == first and faces[1].track_id not in (first, faces[0].track_id)


def test_tracking_off_gives_every_frame_new_ids():
    tracker = Tracker(TrackingConfig(enabled=False))
    ids = [tracker.update([Box(0, 0, 60, 60)], [pred(happy=0.8)])[0].track_id for _ in range(3)]
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]


def test_boxes_held_between_detections_are_those_seen_on_the_last_frame():
    """A missed face's track survives (it may come back), but its old box is not classified again."""
    tracker = Tracker(TrackingConfig(max_missed=5))
    stays, leaves = Box(0, 0, 50, 50), Box(200, 200, 250, 250)
    tracker.update([stays, leaves], [pred(happy=0.8), pred(sad=0.8)])
    assert tracker.boxes() == [stays, leaves]
    tracker.update([stays], [pred(happy=0.8)])
    assert tracker.boxes() == [stays]


def test_smoothed_probabilities_are_the_tracks_ema_and_raw_is_the_frames():
    alpha = 0.5
    tracker = Tracker(smoothing=SmoothingConfig(alpha=alpha))
    box, before, now = Box(0, 0, 60, 60), pred(happy=0.9), pred(sad=0.9)
    tracker.update([box], [before])
    face = tracker.update([box], [now])[0]
    assert np.allclose(face.smoothed.probs, alpha * now.probs + (1 - alpha) * before.probs)
    assert face.raw is now


def test_hysteresis_needs_more_than_the_margin_and_drops_an_unknown_label():
    assert hysteresis_label("a", np.array([0.25, 0.75]), ("a", "b"), 0.5) == "a"  # a lead of exactly the margin
    assert hysteresis_label("gone", np.array([0.45, 0.55]), ("a", "b"), 0.2) == "b"  # not a label of this model
