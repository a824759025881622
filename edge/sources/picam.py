"""Raspberry Pi camera via picamera2 (apt install python3-picamera2; imported only when chosen)."""

from __future__ import annotations

import logging
import time

from edge.errors import EdgeError, SourceUnavailable
from edge.types import Frame

log = logging.getLogger(__name__)


class PiCamera2Source:
    name = "picamera2"

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise EdgeError("source picamera2", "picamera2 not importable (sudo apt install python3-picamera2; "
                                                "create the venv with --system-site-packages)") from None
        try:
            self._camera = Picamera2()
            # "RGB888" in libcamera terms is B,G,R byte order in memory: what OpenCV calls BGR.
            config = self._camera.create_video_configuration(main={"size": (width, height), "format": "RGB888"},
                                                             controls={"FrameRate": fps})
            self._camera.configure(config)
            self._camera.start()
        except (RuntimeError, IndexError, OSError) as exc:
            raise SourceUnavailable("source picamera2", f"cannot start camera ({exc})") from None
        self._index = 0
        log.info("opened picamera2 (%dx%d @ %.0f fps)", width, height, fps)

    def read(self) -> Frame | None:
        try:
            image = self._camera.capture_array("main")
        except (RuntimeError, OSError) as exc:
            log.warning("picamera2 capture failed: %s", exc)
            return None
        frame = Frame(image=image[:, :, :3], timestamp=time.time(), index=self._index, source=self.name)
        self._index += 1
        return frame

    def close(self) -> None:
        try:
            self._camera.stop()
            self._camera.close()
        except (RuntimeError, OSError):
            pass
