import json

import numpy as np
import pytest

from edge.classifier import EmotionClassifier
from edge.contract import load_contract
from edge.demo import make_demo_frames
from edge.errors import EdgeError
from edge.quant import dequantize, quantize

FER_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


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


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s.update(tflite_sha256="0" * 64), "does not match its sidecar"),
    (lambda s: s.update(format="other/9"), "format"),
    (lambda s: s.pop("labels"), "labels"),
])
def test_contract_rejects_bad_sidecars(model_copy, edit, expected):
    sidecar = model_copy.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    edit(data)
    sidecar.write_text(json.dumps(data))
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


def test_classifier_rejects_sidecar_that_disagrees_with_the_tensors(model_copy):
    sidecar = model_copy.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    data["input"]["zero_point"] = data["input"]["zero_point"] + 1
    sidecar.write_text(json.dumps(data))
    with pytest.raises(EdgeError, match="input quantisation"):
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
    sidecar = model_copy.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    edit(data)
    sidecar.write_text(json.dumps(data))
    with pytest.raises(EdgeError, match=expected) as caught:
        EmotionClassifier(model_copy)
    assert caught.value.thing == f"model {model_copy}"
