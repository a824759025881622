"""Build a throwaway (untrained, tiny) int8 emotion model + sidecar with the project's own converter:
`python tests/service/throwaway_model.py OUT.tflite`. Used only when the shipped model is absent; the
service tests exercise plumbing (notify, store, signals), not accuracy. Needs TensorFlow (test-only)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

FER_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
CALIBRATION_FACES = 32


def main(out: Path) -> None:
    import keras
    import numpy as np

    from convert.opcheck import check_integer_model
    from convert.quantize import convert_int8
    from convert.sidecar import build_contract, file_sha256, sidecar_path, write_json_atomic

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(FER_LABELS), activation="softmax")(x)
    calibration = np.random.default_rng(0).uniform(0, 255, (CALIBRATION_FACES, 48, 48, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(convert_int8(keras.Model(inputs, outputs), calibration))
    contract = build_contract(FER_LABELS, check_integer_model(out), "tests/service/throwaway", file_sha256(out), None)
    write_json_atomic(sidecar_path(out), contract)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
