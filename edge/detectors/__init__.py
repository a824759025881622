"""Face detector backends, chosen by config `type` (one backend per module, imported lazily)."""

from __future__ import annotations

import logging
from pathlib import Path

from edge.errors import EdgeError, checked
from edge.types import FaceDetector

log = logging.getLogger(__name__)


def resolve_type(kind: str, mediapipe_model: Path) -> str:
    """`auto` means mediapipe when its model file is present, otherwise haar (and says why)."""
    if kind != "auto":
        return kind
    if not checked(f"face model {mediapipe_model}", Path(mediapipe_model).is_file):
        from edge.fetch_detector import fetch_command

        log.info("detector auto: using haar because %s is missing (run `%s` for mediapipe)", mediapipe_model,
                 fetch_command(mediapipe_model))
        return "haar"
    from edge.detectors.cpu import mediapipe_unsupported_reason

    reason = mediapipe_unsupported_reason()
    if reason:
        log.warning("detector auto: using haar because %s", reason)
        return "haar"
    return "mediapipe"


TFLITE_IDENTIFIER = b"TFL3"  # a .tflite flatbuffer's file identifier, at bytes 4-8
TFLITE_IDENTIFIER_AT = slice(4, 8)


def check_detector(cfg) -> None:  # cfg: edge.config.DetectorConfig
    """--check-config: the errors make_detector would raise for a face model that is missing (`type: mediapipe`;
    `auto` then takes haar) or present but not a TFLite model (`auto` takes any file there for mediapipe), found
    without importing MediaPipe."""
    if cfg.type == "haar":
        return
    from edge.config import resolve_data_path
    from edge.fetch_detector import fetch_command

    model = resolve_data_path(cfg.mediapipe.model)
    if not checked(f"face model {model}", model.is_file):
        if cfg.type == "auto":
            return
        raise EdgeError(f"face model {model}", f"missing; run `{fetch_command(model)}`")
    try:
        with model.open("rb") as handle:
            head = handle.read(TFLITE_IDENTIFIER_AT.stop)
    except OSError as exc:
        raise EdgeError(f"face model {model}", f"unreadable ({exc.strerror or exc})") from None
    if head[TFLITE_IDENTIFIER_AT] != TFLITE_IDENTIFIER:
        raise EdgeError(f"face model {model}", "not a TFLite model (no TFL3 identifier); run "
                                               f"`{fetch_command(model)}` to fetch the real one")


def make_detector(cfg) -> FaceDetector:  # cfg: edge.config.DetectorConfig
    from edge.config import resolve_data_path

    face_model = resolve_data_path(cfg.mediapipe.model)
    kind = resolve_type(cfg.type, face_model)
    if kind == "mediapipe":
        from edge.detectors.blazeface import MediaPipeDetector

        mp = cfg.mediapipe
        return MediaPipeDetector(margin=framing_margin(cfg, mp.margin), min_size=cfg.min_size, model=face_model,
                                 min_confidence=mp.min_confidence, running_mode=mp.running_mode, shift_y=mp.shift_y)
    from edge.detectors.haar import HaarDetector

    haar = cfg.haar
    return HaarDetector(margin=framing_margin(cfg, haar.margin), min_size=cfg.min_size, scale_factor=haar.scale_factor,
                        min_neighbors=haar.min_neighbors, detect_width=haar.detect_width, equalize=haar.equalize,
                        shift_y=haar.shift_y)


def framing_margin(cfg, backend_margin: float) -> float:  # cfg: edge.config.DetectorConfig
    """`detector.margin` when set (it overrides either backend's, and says so: a config written before the margins
    were measured per backend may still carry the old shared 0.12), else the backend's own measured one."""
    if cfg.margin is None:
        return backend_margin
    log.info("detector.margin %.2f overrides this detector's measured %.2f (docs/EDGE.md, Framing; null = the "
             "detector's own); its shift_y still applies", cfg.margin, backend_margin)
    return cfg.margin
