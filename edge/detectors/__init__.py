"""Face detector backends, chosen by config `type` (one backend per module, imported lazily)."""

from __future__ import annotations

import logging
from pathlib import Path

from edge.errors import checked
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


def make_detector(cfg) -> FaceDetector:  # cfg: edge.config.DetectorConfig
    from edge.config import resolve_data_path

    face_model = resolve_data_path(cfg.mediapipe.model)
    kind = resolve_type(cfg.type, face_model)
    if kind == "mediapipe":
        from edge.detectors.blazeface import MediaPipeDetector

        return MediaPipeDetector(margin=cfg.margin, min_size=cfg.min_size, model=face_model,
                                 min_confidence=cfg.mediapipe.min_confidence, running_mode=cfg.mediapipe.running_mode)
    from edge.detectors.haar import HaarDetector

    return HaarDetector(margin=cfg.margin, min_size=cfg.min_size, scale_factor=cfg.haar.scale_factor,
                        min_neighbors=cfg.haar.min_neighbors, detect_width=cfg.haar.detect_width, equalize=cfg.haar.equalize)
