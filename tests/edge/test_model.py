import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from edge.classifier import PIXEL_MAX, EmotionClassifier
from edge.config import ClassifierConfig
from edge.contract import load_contract
from edge.demo import make_demo_frames
from edge.errors import EdgeError
from edge.quant import dequantize, quantize
from edge.types import Box

FER_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
PROBS_ATOL = 1e-6


def test_quantize_roundtrip_and_saturation():
    x = np.array([0.0, 1.0, 127.6, 255.0, 400.0, -5.0], np.float32)
    q = quantize(x, 1.0, -128, "int8")
    assert q.dtype == np.int8
    assert q.tolist() == [-128, -127, 0, 127, 127, -128]
    assert np.allclose(dequantize(q, 1.0, -128), [0, 1, 128, 255, 255, 0])
    assert np.allclose(dequantize(np.array([-128, 127], np.int8), 1 / 256, -128), [0.0, 255 / 256])
    assert quantize(x, 1.0, 0, "float32").dtype == np.float32


def test_contract_of_shipped_model(emotion_model):
    contract = load_contract(emotion_model)
    assert contract.labels == FER_LABELS
    assert contract.preprocess.width == 48 and contract.preprocess.color == "grayscale"


def edit_sidecar(model: Path, edit) -> None:
    """Apply `edit` to the JSON sidecar beside `model`, in place."""
    sidecar = model.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    edit(data)
    sidecar.write_text(json.dumps(data))


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s.update(tflite_sha256="0" * 64), "does not match its sidecar"),
    (lambda s: s.update(format="other/9"), "format"),
    (lambda s: s.pop("labels"), "labels"),
    (lambda s: s.update(labels=s["labels"][:-1]), r"6 labels but output shape \[1, 7\]"),  # a class unnamed
])
def test_contract_rejects_bad_sidecars(model_copy, edit, expected):
    edit_sidecar(model_copy, edit)
    with pytest.raises(EdgeError, match=expected):
        load_contract(model_copy)


def test_contract_rejects_corrupt_tflite(model_copy):
    model_copy.write_bytes(model_copy.read_bytes()[:-100] + b"x" * 100)
    with pytest.raises(EdgeError, match="sha256"):
        load_contract(model_copy)


def test_classifier_batch_equals_loop(emotion_model):
    clip = make_demo_frames(2, faces=3)
    image, boxes = clip[0], clip.boxes(0)
    batched = EmotionClassifier(emotion_model, batch=True).classify(image, boxes)
    looped = EmotionClassifier(emotion_model, batch=False).classify(image, boxes)
    assert len(batched) == len(looped) == 3
    for a, b in zip(batched, looped):
        assert a.labels == tuple(FER_LABELS)
        assert np.allclose(a.probs, b.probs, atol=1e-6)
        assert abs(float(a.probs.sum()) - 1.0) < 1e-4
        assert 0.0 <= a.confidence <= 1.0


def test_classifier_handles_no_faces_and_varying_counts(emotion_model):
    clf = EmotionClassifier(emotion_model)
    clip = make_demo_frames(1, faces=3)
    assert clf.classify(clip[0], []) == []
    assert len(clf.classify(clip[0], clip.boxes(0)[:1])) == 1
    assert len(clf.classify(clip[0], clip.boxes(0))) == 3


def test_classifier_answers_each_face_in_the_order_of_its_boxes(emotion_model):
    clf = EmotionClassifier(emotion_model)
    clip = make_demo_frames(2, faces=3)
    image, boxes = clip[0], clip.boxes(0)
    together = clf.classify(image, boxes)
    alone = [clf.classify(image, [box])[0] for box in boxes]
    assert not np.allclose(alone[0].probs, alone[-1].probs, atol=PROBS_ATOL)  # faces the model tells apart
    for one, other in zip(together, alone):
        assert np.allclose(one.probs, other.probs, atol=PROBS_ATOL)


ASTRONAUT_FACE = Box(165, 40, 309, 184)  # skimage's astronaut: her face, 144 px square (3 x 48, so the area
# resize of the mirror image is the mirror image of the resize)


def mirrored(box: Box, frame_width: int) -> Box:
    return Box(frame_width - box.x2, box.y1, frame_width - box.x1, box.y2, box.score)


def test_mirror_average_is_the_mean_of_a_face_and_its_mirror_image(emotion_model):
    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    plain = EmotionClassifier(emotion_model)
    face = plain.classify(image, [ASTRONAUT_FACE])[0].probs
    mirror = plain.classify(cv2.flip(image, 1), [mirrored(ASTRONAUT_FACE, image.shape[1])])[0].probs
    assert not np.allclose(face, mirror, atol=0.01)  # the net answers her face and its mirror image differently
    for batch in (True, False):
        averaged = EmotionClassifier(emotion_model, batch=batch, mirror_average=True)
        prediction = averaged.classify(image, [ASTRONAUT_FACE])[0]
        assert np.allclose(prediction.probs, (face + mirror) / 2, atol=PROBS_ATOL)
        assert abs(float(prediction.probs.sum()) - 1.0) < 1e-4


def test_mirror_average_answers_each_face_in_the_order_of_its_boxes(emotion_model):
    clip = make_demo_frames(2, faces=3)
    image, boxes = clip[0], clip.boxes(0)
    clf = EmotionClassifier(emotion_model, mirror_average=True)
    assert clf.preprocess(image, boxes).shape[0] == 2 * len(boxes)
    together = clf.classify(image, boxes)
    alone = [clf.classify(image, [box])[0] for box in boxes]
    assert len(together) == len(boxes)
    assert not np.allclose(alone[0].probs, alone[-1].probs, atol=PROBS_ATOL)
    for one, other in zip(together, alone):
        assert np.allclose(one.probs, other.probs, atol=PROBS_ATOL)


@pytest.mark.parametrize("key, why", [("mirror_average", "already averages"), ("mirror_symmetric", "alike")])
def test_mirror_average_is_skipped_for_a_model_with_the_mirror_built_in(model_copy, caplog, key, why):
    """A model converted with --mirror-average already sees both images, and one trained with --symmetry mirror
    answers both alike: a run-time pair would only cost time."""
    edit_sidecar(model_copy, lambda s: s.update({key: True}))
    clip = make_demo_frames(1)
    with caplog.at_level("WARNING", logger="edge.classifier"):
        clf = EmotionClassifier.from_config(ClassifierConfig(model=model_copy, mirror_average=True))
    assert not clf.mirror_average and why in caplog.text
    assert clf.preprocess(clip[0], clip.boxes(0)).shape[0] == 1
    assert EmotionClassifier.from_config(ClassifierConfig(model=model_copy)).mirror_average is False


def test_mirror_average_comes_from_the_config(emotion_model):
    assert EmotionClassifier.from_config(ClassifierConfig(model=emotion_model, mirror_average=True)).mirror_average
    assert not EmotionClassifier.from_config(ClassifierConfig(model=emotion_model)).mirror_average


@pytest.mark.parametrize("value_range", [(0, 255), (0, 127.5)])
def test_preprocess_is_the_sidecars_recipe(model_copy, value_range):
    """Grayscale crop, resized with the sidecar's interpolation, mapped onto its value range, quantised."""
    sidecar = model_copy.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    data["preprocess"]["value_range"] = list(value_range)
    sidecar.write_text(json.dumps(data))
    clip = make_demo_frames(1)
    image, box = clip[0], clip.boxes(0)[0]
    assert box.width > 2 * data["preprocess"]["width"]  # a real downscale, where the interpolation shows
    gray = cv2.cvtColor(image[box.y1:box.y2, box.x1:box.x2], cv2.COLOR_BGR2GRAY)
    size = (data["preprocess"]["width"], data["preprocess"]["height"])
    pixels = cv2.resize(gray, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    low, high = value_range
    real = low + pixels * (high - low) / PIXEL_MAX
    expected = quantize(real, data["input"]["scale"], data["input"]["zero_point"], data["input"]["dtype"])
    model_input = EmotionClassifier(model_copy).preprocess(image, [box])
    np.testing.assert_array_equal(model_input[0, ..., 0], expected)


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s["input"].update(zero_point=s["input"]["zero_point"] + 1), "input quantisation"),
    (lambda s: s["input"].update(scale=s["input"]["scale"] * 2), "input quantisation"),
    (lambda s: s["output"].update(scale=s["output"]["scale"] * 2), "output quantisation"),
    (lambda s: s["input"].update(dtype="uint8"), "input dtype int8 != sidecar uint8"),
    (lambda s: s["output"].update(dtype="uint8"), "output dtype int8 != sidecar uint8"),
], ids=["input-zero-point", "input-scale", "output-scale", "input-dtype", "output-dtype"])
def test_classifier_rejects_sidecar_that_disagrees_with_the_tensors(model_copy, edit, expected):
    edit_sidecar(model_copy, edit)
    with pytest.raises(EdgeError, match=expected):
        EmotionClassifier(model_copy)


def fewer_outputs(sidecar: dict) -> None:
    """A sidecar edited to 6 labels (and a 6-wide output, so it is self-consistent) on the 7-output model."""
    sidecar["labels"] = sidecar["labels"][:-1]
    sidecar["output"]["shape"] = [1, 6]


@pytest.mark.parametrize("edit, expected", [
    (fewer_outputs, r"output shape \[1, 7\] != sidecar \[1, 6\]"),
    (lambda s: s["preprocess"].update(width=64),
     r"input shape \[1, 48, 48, 1\] does not fit the sidecar's preprocess \(height 48, width 64, grayscale: 1 channel"),
    (lambda s: s["preprocess"].update(height=40), r"\(height 40, width 48, grayscale"),
    (lambda s: s["preprocess"].update(color="rgb"), r"width 48, rgb: 3 channel\(s\)\)"),
], ids=["output-size", "preprocess-width", "preprocess-height", "preprocess-colour"])
def test_classifier_rejects_shapes_the_sidecar_does_not_share_with_the_model(model_copy, edit, expected):
    """Caught when the model is loaded, as one EdgeError naming the model: not a class silently dropped, nor a
    LiteRT ValueError at the first face."""
    edit_sidecar(model_copy, edit)
    with pytest.raises(EdgeError, match=expected) as caught:
        EmotionClassifier(model_copy)
    assert caught.value.thing == f"model {model_copy}"
