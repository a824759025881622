"""MediaPipe Tasks FaceDetector with the BlazeFace short-range model (`python -m edge.fetch_detector`).

MediaPipe's C++ code prints log lines on stderr when the detector is created, on the first detection whose input
tensor happens to be unaligned (a `W0000 ... Input tensor memory is not aligned ...` warning, once per process: most
often the first frame, sometimes the second or third, measured) and when it is closed: those calls run inside
edge.native_stderr's window, which logs the lines instead; frames after the first FIRST_DETECTS_CAPTURED run without
it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from edge.config import DEFAULT_FACE_MODEL
from edge.detectors.base import DETECTOR_DEFAULTS, BaseDetector
from edge.detectors.cpu import mediapipe_unsupported_reason
from edge.errors import EdgeError, checked
from edge.fetch_detector import fetch_command
from edge.native_stderr import native_stderr_logged
from edge.no_tensorflow import mediapipe_import
from edge.types import Box

NATIVE_LOG_NAME = "mediapipe face detector"  # names the detector's captured C++ log lines (edge.native_stderr)
FIRST_DETECTS_CAPTURED = 10  # the alignment warning came by the 3rd detection in 25 runs; a window costs ~50 us


class MediaPipeDetector(BaseDetector):
    name = "mediapipe"

    def __init__(self, margin: float = DETECTOR_DEFAULTS.mediapipe.margin, min_size: int = DETECTOR_DEFAULTS.min_size,
                 model: Path = DEFAULT_FACE_MODEL, min_confidence: float = DETECTOR_DEFAULTS.mediapipe.min_confidence,
                 running_mode: Literal["image", "video"] = DETECTOR_DEFAULTS.mediapipe.running_mode,
                 shift_y: float = DETECTOR_DEFAULTS.mediapipe.shift_y) -> None:
        super().__init__(margin, min_size, shift_y)
        model = Path(model)
        if not checked(f"face model {model}", model.is_file):
            raise EdgeError(f"face model {model}", f"missing; run `{fetch_command(model)}`")
        reason = mediapipe_unsupported_reason()
        if reason:
            raise EdgeError("mediapipe", reason)
        try:
            with mediapipe_import():
                import mediapipe as mp
                from mediapipe.tasks.python import vision
                from mediapipe.tasks.python.core.base_options import BaseOptions
        except (ImportError, OSError) as exc:  # OSError: a system library it links (libEGL, libGLESv2) is missing
            raise EdgeError("mediapipe", f"not importable ({exc}); pip install mediapipe (and apt install libegl1 "
                            "libgles2) or use --detector haar") from None
        self._mp = mp
        self._video = running_mode == "video"
        mode = vision.RunningMode.VIDEO if self._video else vision.RunningMode.IMAGE
        options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=str(model)),
                                             running_mode=mode, min_detection_confidence=min_confidence)
        self._detector = None
        try:
            with native_stderr_logged(NATIVE_LOG_NAME):
                self._detector = vision.FaceDetector.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise EdgeError(f"face model {model}", f"rejected by MediaPipe ({exc})") from None
        except BaseException:  # a Ctrl-C held back by the capture lands as it closes: the detector exists, close it
            self.close()      # now, or MediaPipe's __del__ fails at interpreter exit with a traceback
            raise
        self._last_ms = -1
        self._detects_to_capture = FIRST_DETECTS_CAPTURED

    def _timestamp_ms(self) -> int:
        self._last_ms = max(self._last_ms + 1, int(time.monotonic() * 1000))
        return self._last_ms

    def _run(self, image: Any) -> Any:  # mediapipe's Image in, its FaceDetectorResult out
        if self._video:
            return self._detector.detect_for_video(image, self._timestamp_ms())
        return self._detector.detect(image)

    def _detect_raw(self, image_bgr: np.ndarray) -> list[Box]:
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        if self._detects_to_capture > 0:
            self._detects_to_capture -= 1
            with native_stderr_logged(NATIVE_LOG_NAME):
                result = self._run(image)
        else:
            result = self._run(image)
        boxes = []
        for det in result.detections:
            bb = det.bounding_box
            score = det.categories[0].score if det.categories else 1.0
            boxes.append(Box(bb.origin_x, bb.origin_y, bb.origin_x + bb.width, bb.origin_y + bb.height, float(score or 0.0)))
        return boxes

    def close(self) -> None:
        if self._detector is not None:
            with native_stderr_logged(NATIVE_LOG_NAME):
                self._detector.close()
            self._detector = None
