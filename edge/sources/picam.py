"""Raspberry Pi camera via picamera2 (apt install python3-picamera2; imported only when chosen)."""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
from concurrent.futures import TimeoutError as FutureTimeout  # picamera2's job.get_result raises it

from edge.errors import EdgeError, SourceUnavailable
from edge.types import Frame

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0  # a frame later than this is a failed read: the reconnect takes over, a stop is acted on
FLUSH_METHOD = "cancel_all_and_flush"  # its presence also says wait() takes a timeout (both came in one release)
CAMERA_ERRORS = (RuntimeError, IndexError, OSError)  # what picamera2 raises for an absent, busy or failing camera
MODULE = "picamera2"
THING = "source picamera2"
MAX_CAUSE_CHARS = 200  # of the import error's first line, in the one-line error
PI_NUMPY = "numpy<2"  # what scripts/install.sh --pi pins (PI_PIP_CONSTRAINTS)
NOT_IMPORTABLE = ("picamera2 not importable (sudo apt install python3-picamera2; create the venv with "
                  "--system-site-packages)")


def not_importable() -> EdgeError:
    """The configuration error opening this source gives, and --check-config with it, when picamera2 is missing."""
    return EdgeError(THING, NOT_IMPORTABLE)


def import_failed(exc: BaseException) -> EdgeError:
    """picamera2 is there but its import fails: most often Debian's build (simplejpeg, libcamera) under a numpy 2
    the venv installed over Debian's numpy 1 ("numpy.dtype size changed", "compiled using NumPy 1.x")."""
    lines = str(exc).strip().splitlines() or [""]
    cause = f"{type(exc).__name__}: {lines[0][:MAX_CAUSE_CHARS]}"
    return EdgeError(THING, f"picamera2 is installed but fails to import ({cause}); with Debian's "
                            f"python3-picamera2 the venv needs {PI_NUMPY} (bash scripts/install.sh --pi yes)")


def import_picamera2() -> type:
    """picamera2.Picamera2, or the configuration error that says why it cannot be had."""
    try:
        from picamera2 import Picamera2
    except ModuleNotFoundError as exc:
        if exc.name != MODULE:  # one of its own imports is missing: a broken install, not a missing one
            raise import_failed(exc) from None
        raise not_importable() from None
    except Exception as exc:  # noqa: BLE001 - whatever its import raises is a broken install, said in one line
        raise import_failed(exc) from None
    return Picamera2


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
        Picamera2 = import_picamera2()  # noqa: N806 - the class, named as picamera2 names it
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
            image = self._capture()
        except FutureTimeout:
            self.last_failure = f"no frame within {READ_TIMEOUT_S:g} s"
            log.debug("picamera2 %s", self.last_failure)
            self._flush_jobs()
            return None
        except (RuntimeError, OSError) as exc:
            self.last_failure = f"capture failed: {exc}"
            log.debug("picamera2 %s", self.last_failure)
            return None
        frame = Frame(image=image[:, :, :3], timestamp=time.time(), index=self._index, source=self.name)
        self._index += 1
        return frame

    def _capture(self):  # noqa: ANN202 - a numpy array from picamera2
        """The next frame's array, waiting at most READ_TIMEOUT_S (FutureTimeout after that). picamera2's own
        capture_array waits for ever for a camera that stopped delivering frames, and a stop request (SIGTERM from
        systemd) would never be acted on. wait(job, timeout) came with cancel_all_and_flush (picamera2 0.3.19,
        2024); an older picamera2 still blocks."""
        camera = self._camera
        if not hasattr(camera, FLUSH_METHOD):
            return camera.capture_array("main")
        return camera.wait(camera.capture_array("main", wait=False), timeout=READ_TIMEOUT_S)

    def _flush_jobs(self) -> None:
        """Drop the capture job that timed out: stop() and close() queue jobs of their own behind it, which would
        wait for a frame that never comes (picamera2's documented use of cancel_all_and_flush)."""
        try:
            getattr(self._camera, FLUSH_METHOD)()
        except CAMERA_ERRORS as exc:
            log.debug("picamera2 %s failed: %s", FLUSH_METHOD, exc)

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
