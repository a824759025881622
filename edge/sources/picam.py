"""Raspberry Pi camera via picamera2 (apt install python3-picamera2; imported only when chosen)."""

from __future__ import annotations

import importlib.util
import logging
import sys
import time

from edge.errors import EdgeError, SourceUnavailable
from edge.types import Frame

log = logging.getLogger(__name__)

CAMERA_ERRORS = (RuntimeError, IndexError, OSError)  # what picamera2 raises for an absent, busy or failing camera
MODULE = "picamera2"
THING = "source picamera2"
NOT_IMPORTABLE = ("picamera2 not importable (sudo apt install python3-picamera2; create the venv with "
                  "--system-site-packages)")


def not_importable() -> EdgeError:
    """The configuration error opening this source gives, and --check-config with it, when picamera2 is missing."""
    return EdgeError(THING, NOT_IMPORTABLE)


def check_importable() -> None:
    """not_importable() unless Python finds picamera2, without importing it (--check-config opens no camera)."""
    if sys.modules.get(MODULE) is not None:
        return  # already imported (or a test's stand-in, whose __spec__ may be None)
    try:
        found = importlib.util.find_spec(MODULE) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise not_importable()


class PiCamera2Source:
    name = "picamera2"

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise not_importable() from None
        try:
            self._camera = Picamera2()  # acquires the camera: RuntimeError while another process holds it
        except CAMERA_ERRORS as exc:
            raise SourceUnavailable("source picamera2", f"cannot start camera ({exc})") from None
        try:
            self._start(width, height, fps)
        except BaseException as exc:
            self._release()  # a camera left acquired would make every later open fail
            if isinstance(exc, CAMERA_ERRORS):
                raise SourceUnavailable("source picamera2", f"cannot start camera ({exc})") from None
            raise
        self._index = 0
        self.last_failure: str | None = None
        log.info("opened picamera2 (%dx%d @ %.0f fps)", width, height, fps)

    def read(self) -> Frame | None:
        """The next frame, or None when the capture fails. The failure is DEBUG here and kept in `last_failure`:
        the reconnecting wrapper gives the whole outage one WARNING with that reason, not one per attempt."""
        try:
            image = self._camera.capture_array("main")
        except (RuntimeError, OSError) as exc:
            self.last_failure = f"capture failed: {exc}"
            log.debug("picamera2 %s", self.last_failure)
            return None
        frame = Frame(image=image[:, :, :3], timestamp=time.time(), index=self._index, source=self.name)
        self._index += 1
        return frame

    def _start(self, width: int, height: int, fps: float) -> None:
        # "RGB888" in libcamera terms is B,G,R byte order in memory: what OpenCV calls BGR.
        config = self._camera.create_video_configuration(main={"size": (width, height), "format": "RGB888"},
                                                         controls={"FrameRate": fps})
        self._camera.configure(config)
        self._camera.start()

    def _release(self) -> None:
        """Close the camera (picamera2's close() also stops it if started), releasing it for the next open."""
        try:
            self._camera.close()
        except CAMERA_ERRORS as exc:
            log.warning("picamera2 close failed: %s", exc)

    def close(self) -> None:
        """Stop, then close: close() runs even when stop() fails, so the camera is released either way."""
        try:
            self._camera.stop()
        except CAMERA_ERRORS as exc:
            log.warning("picamera2 stop failed: %s", exc)
        finally:
            self._release()
