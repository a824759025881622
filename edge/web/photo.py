"""Uploaded photos: validated by decoding, classified in memory (never written to disk), answered as JSON.

Classification reuses `edge.commands.photo` (classify_photo, chart_png) with its own detector and classifier,
so uploads never touch the pipeline's (LiteRT interpreters are not thread-safe); one upload at a time.
"""

from __future__ import annotations

import base64
import io
import logging
import threading

import cv2
import numpy as np
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType

from edge.commands.photo import chart_png, chart_title, classify_photo, load_photo_models
from edge.config import RunConfig
from edge.sinks.overlay import draw_overlay
from edge.web.state import face_json

log = logging.getLogger(__name__)

# MPO is Pillow's name for a JPEG carrying extra pictures (phones' depth maps, Ultra HDR gain maps): its first
# picture is an ordinary JPEG, which is what OpenCV decodes.
ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG"}
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding
RESULT_JPEG_QUALITY = 90


def decode_upload(data: bytes) -> np.ndarray:
    """BGR image from JPEG/PNG bytes, or a 4xx HTTPException saying what is wrong (the name is never looked at)."""
    if not data:
        raise BadRequest("empty upload: choose a JPEG or PNG photo")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            kind, (width, height) = probe.format, probe.size
    except Image.DecompressionBombError:  # PIL's own limit, far above MAX_PIXELS: the header says it is huge
        raise RequestEntityTooLarge(f"image too large (at most {MAX_PIXELS // 1_000_000} megapixels)") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise UnsupportedMediaType("not a JPEG or PNG image") from None
    if kind not in ACCEPTED_FORMATS:
        raise UnsupportedMediaType(f"{kind} images are not accepted: upload a JPEG or PNG")
    if width * height > MAX_PIXELS:
        raise RequestEntityTooLarge(f"image too large ({width}x{height}; at most {MAX_PIXELS // 1_000_000} megapixels)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UnsupportedMediaType(f"the {kind} data cannot be decoded (truncated or corrupt)")
    return image


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class PhotoService:
    """Loads its detector and classifier on the first upload (a run without uploads pays nothing)."""

    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self._lock = threading.Lock()
        self._detector = self._classifier = None

    def _models(self):
        """Both models, or neither: a failed load (EdgeError -> 503) leaves nothing half set, so the next
        upload tries again."""
        if self._classifier is None:
            self._detector, self._classifier = load_photo_models(self.cfg)
        return self._detector, self._classifier

    def analyse(self, data: bytes) -> dict:
        with self._lock:  # decoding too: parallel uploads of large photos must not multiply the memory needed
            image = decode_upload(data)
            detector, classifier = self._models()
            result = classify_photo(image, detector, classifier, source="upload")
        quality = [cv2.IMWRITE_JPEG_QUALITY, RESULT_JPEG_QUALITY]
        ok, annotated = cv2.imencode(".jpg", draw_overlay(image, result), quality)
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        faces = []
        for face in result.faces:
            entry = face_json(face)
            entry["probs"] = face.raw.as_dict()
            entry["chart"] = data_url("image/png", chart_png(face.raw, chart_title(face)))
            faces.append(entry)
        height, width = image.shape[:2]
        log.info("photo upload: %dx%d, %d face(s)", width, height, len(faces))
        return {"width": width, "height": height, "faces": faces, "image": data_url("image/jpeg", annotated.tobytes())}

    def close(self) -> None:
        with self._lock:
            for part in (self._detector, self._classifier):
                if part is not None:
                    part.close()
            self._detector = self._classifier = None
