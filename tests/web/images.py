"""Test images made in memory: the scikit-image astronaut as JPEG bytes, and decoding of data: URLs."""

from __future__ import annotations

import base64

import cv2
import numpy as np


def astronaut_jpeg() -> bytes:
    from skimage import data

    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return encoded.tobytes()


def decode_data_url(url: str, mime: str) -> np.ndarray:
    prefix = f"data:{mime};base64,"
    assert url.startswith(prefix)
    image = cv2.imdecode(np.frombuffer(base64.b64decode(url[len(prefix):]), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image
