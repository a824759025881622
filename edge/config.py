"""Run configuration: pydantic models (extra keys forbidden), loaded from YAML, overridden by CLI flags.

Every leaf value has a dotted CLI flag generated from these models, e.g. `--detector.haar.scale_factor 1.2`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from edge.cli_common import USAGE_THING
from edge.display.config import DisplayConfig
from edge.config_model import Strict
from edge.config_yaml import DuplicateKey, load_yaml
from edge.errors import EdgeError
from edge.web.config import WebConfig

# The models' default locations (relative: see resolve_data_path); every default elsewhere refers to these.
DEFAULT_EMOTION_MODEL = Path("models/emotion_int8.tflite")
DEFAULT_FACE_MODEL = Path("models/face_detection_short_range.tflite")

MAX_FRAME_SIDE = 8192  # pixels: above 8K video; the demo clip is generated at the asked size
MIN_FPS, MAX_FPS = 0.01, 1000.0  # a frame every 100 s (time-lapse) .. high-speed cameras
MAX_DURATION_S = 10 * 365 * 24 * 3600.0  # ten years: beyond it a timer cannot be armed
MAX_BACKOFF_S = 3600.0  # an hour between reconnect attempts at most (larger waits overflow the timer)

SourceKind = Literal["auto", "camera", "picamera2", "video", "image", "folder", "stream", "demo"]


class SourceConfig(Strict):
    kind: SourceKind = Field("auto", description="auto guesses from uri; no uri = camera 0 with demo fallback")
    uri: str | None = Field(None, description="camera index, /dev/videoN, file, folder, rtsp://, http://, 'demo', 'picamera2'")
    width: int = Field(640, gt=0, le=MAX_FRAME_SIDE)
    height: int = Field(480, gt=0, le=MAX_FRAME_SIDE)
    fps: float = Field(30.0, ge=MIN_FPS, le=MAX_FPS, description="camera rate asked for; the demo clip's rate; the annotated "
                                               "video's rate (a video file: its own)")
    loop: bool = Field(False, description="restart files/folders/demo at the end")
    reconnect: bool = Field(True, description="reopen cameras/streams that stop delivering frames")
    backoff_initial_s: float = Field(0.5, gt=0, le=MAX_BACKOFF_S)
    backoff_max_s: float = Field(10.0, gt=0, le=MAX_BACKOFF_S)
    demo_frames: int = Field(300, gt=0)
    demo_faces: int = Field(1, ge=1, le=6)

    @field_validator("uri", mode="before")
    @classmethod
    def _index_as_text(cls, value: Any) -> Any:
        """A camera index as text; `~/clips` the home folder's clips, as a path setting's tilde is (a URL or a
        device name never starts with ~)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return os.path.expanduser(value) if isinstance(value, str) and value.startswith("~") else value


MARGIN_FIELD = dict(ge=0.0, le=1.0, description="grow its boxes by this fraction per side, so the crop is framed as "
                                                  "FER-2013's faces are (measured: scripts/framing.py)")
SHIFT_FIELD = dict(ge=-0.5, le=0.5, description="move its boxes down by this fraction of their height before growing "
                                                "them (negative: up), to centre the crop as FER-2013's faces are")


class HaarConfig(Strict):
    scale_factor: float = Field(1.2, gt=1.0)
    min_neighbors: int = Field(5, ge=0)
    detect_width: int = Field(400, ge=0, description="downscale to this width before detecting (0 = full size)")
    equalize: bool = Field(False, description="histogram-equalise before detecting (helps in dim light)")
    # The cascade's tight box is already about FER-2013's crop (median side 0.98 of it, centred): 0.03 scored
    # 0.693 on test/ faces it found against 0.664 at the old shared 0.12 (docs/EDGE.md, Framing)
    margin: float = Field(0.03, **MARGIN_FIELD)
    shift_y: float = Field(0.0, **SHIFT_FIELD)


class MediaPipeConfig(Strict):
    model: Path = DEFAULT_FACE_MODEL
    min_confidence: float = Field(0.5, ge=0.0, le=1.0)
    running_mode: Literal["image", "video"] = "image"
    # BlazeFace's box is smaller than FER-2013's crop (median side 0.84) and sits lower (its centre 0.065 of the
    # crop down): 0.12 up 0.08 scored 0.678 on test/ faces it found against 0.669 unshifted (docs/EDGE.md, Framing)
    margin: float = Field(0.12, **MARGIN_FIELD)
    shift_y: float = Field(-0.08, **SHIFT_FIELD)


class DetectorConfig(Strict):
    type: Literal["auto", "haar", "mediapipe"] = "auto"
    every: int = Field(1, ge=1, description="detect every N frames, track boxes in between")
    margin: float | None = Field(None, ge=0.0, le=1.0, description="grow boxes by this fraction per side, for "
                                                                  "either backend (null = the backend's own: "
                                                                  "haar.margin, mediapipe.margin)")
    # A face 40 px across scored 0.8 points below one at the model's 48, 32 px 2.9 below, 24 px 27 below
    # (scripts/framing.py); 40 also keeps haar's smallest face about where the old 48 after a 0.12 margin put it.
    min_size: int = Field(40, ge=1, description="minimum face size in frame pixels after the margin (smaller faces "
                                                "classify poorly)")
    haar: HaarConfig = HaarConfig()
    mediapipe: MediaPipeConfig = MediaPipeConfig()


class ClassifierConfig(Strict):
    model: Path = DEFAULT_EMOTION_MODEL
    num_threads: int = Field(2, ge=1)
    batch: bool = Field(True, description="classify all faces of a frame in one invoke")
    mirror_average: bool = Field(False, description="also classify each face's mirror image and average the two: "
                                                    "about 1 point more accuracy for twice the classifier's time")


class TrackingConfig(Strict):
    enabled: bool = Field(True, description="off: new ids every frame, no smoothing; events then throttled per frame")
    iou_threshold: float = Field(0.3, ge=0.0, le=1.0)
    centre_distance: float = Field(0.6, ge=0.0, description="fallback match if centres are closer than this x box size")
    centre_speed: float = Field(6.0, ge=0.0, description="box sizes per second a face may move: while frames are "
                                                         "further apart than centre_distance / centre_speed, the gate "
                                                         "grows with the time since a face was last detected (up to "
                                                         "2 box sizes)")
    max_missed: int = Field(10, ge=0, description="frames a track survives without a detection")
    max_gap_s: float = Field(2.0, gt=0.0, description="seconds without frames (a camera outage) after which all "
                                                      "tracks are forgotten: the next face is a new track")


class SmoothingConfig(Strict):
    enabled: bool = True
    alpha: float = Field(0.35, gt=0.0, le=1.0, description="EMA weight of the newest probabilities")
    hysteresis: float = Field(0.1, ge=0.0, le=1.0, description="a new label must lead the shown one by this much")


class OutputConfig(Strict):
    dir: Path = Path("out")
    events: bool = True
    events_file: str = "events.jsonl"
    events_max_mb: float = Field(50.0, ge=0.0, description="rotate the events log past this size (0 = never): it "
                                                           "becomes <file>.1, older ones shift up")
    events_keep: int = Field(4, ge=1, le=1000, description="rotated events logs kept (<file>.1 .. <file>.N)")
    interval_s: float = Field(1.0, ge=0.0, description="one event per face per interval (0 = every frame); "
                                                       "per track, or per frame without tracking")
    window: Literal["auto", "on", "off"] = "auto"
    video: Path | None = Field(None, description="annotated output video (mp4v; .mp4, .m4v, .mov, .avi or .mkv)")
    save_crops: bool = Field(False, description="write face crops to <dir>/crops (off: faces are never stored)")

    @property
    def events_path(self) -> Path:
        return self.dir / self.events_file


class StoreConfig(Strict):
    """Durable SQLite event store (edge.store.StoreSink); the service always enables it."""

    enabled: bool = Field(False, description="also log events to the SQLite store")
    path: Path | None = Field(None, description="database file (default: $STATE_DIRECTORY/events.db, else <output.dir>/events.db)")
    retention_days: float | None = Field(30.0, gt=0, description="delete events older than this (null = keep)")
    max_mb: float | None = Field(500.0, gt=0, description="delete the oldest events above this size (null = no limit)")
    commit_interval_s: float = Field(1.0, gt=0, le=1.0, description="commit queued events at least this often")


class RunConfig(Strict):
    source: SourceConfig = SourceConfig()
    detector: DetectorConfig = DetectorConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    tracking: TrackingConfig = TrackingConfig()
    smoothing: SmoothingConfig = SmoothingConfig()
    output: OutputConfig = OutputConfig()
    store: StoreConfig = StoreConfig()
    max_frames: int | None = Field(None, ge=1)
    duration: float | None = Field(None, gt=0, le=MAX_DURATION_S)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    web: WebConfig = WebConfig()
    display: DisplayConfig = DisplayConfig()  # on-screen overlay of an emotion display (docs/DISPLAY.md)


INSTALL_ROOT = Path(__file__).resolve().parents[1]  # the repo / install folder holding models/


def _present(path: Path) -> bool:
    """exists(), but a path this user may not look at (EACCES) counts as there: its reader then says why."""
    try:
        return path.exists()
    except OSError:
        return True


def resolve_data_path(path: Path) -> Path:
    """Relative paths are tried in the working directory first, then in the install root (models/ there)."""
    path = Path(path)
    if path.is_absolute() or _present(path):
        return path
    installed = INSTALL_ROOT / path
    return installed if _present(installed) else path


def _first_error(exc: ValidationError) -> tuple[str, str]:
    """(dotted key, problem) of the first error."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(root)"
    return where, err["msg"].removeprefix("Value error, ")


def _given_for(where: str, given: Mapping[str, str]) -> str | None:
    """How the command line gave the value at `where` (a key, or a part of one: a union's member), if it did."""
    return next((text for dotted, text in given.items() if where == dotted or where.startswith(f"{dotted}.")), None)


def validation_error(exc: ValidationError, thing: str, given: Mapping[str, str]) -> EdgeError:
    """`<thing>: <key>: <problem>` (a value from the file, or a check across keys), or for a value from a flag
    (`given`: dotted key -> the flag and its value as typed) `command line: --max-frames abc: max_frames: <problem>`,
    as edge.bench names its flags."""
    where, problem = _first_error(exc)
    flag = _given_for(where, given)
    return EdgeError(USAGE_THING, f"{flag}: {where}: {problem}") if flag else EdgeError(thing, f"{where}: {problem}")


def leaf_fields(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[tuple[str, Any]]:
    """Dotted names and FieldInfo of every leaf value (used to generate CLI flags)."""
    out = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.extend(leaf_fields(annotation, f"{prefix}{name}."))
        else:
            out.append((f"{prefix}{name}", info))
    return out


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """data[a][b][c] = value for "a.b.c", making missing sections; ValueError if a section is not a mapping
    (`source: 5` in the file with `--source.uri x` would otherwise drop the file's value unseen)."""
    *parents, leaf = dotted.split(".")
    node = data
    for depth, part in enumerate(parents):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            section = ".".join(parents[:depth + 1])
            raise ValueError(f"{section}: must be a mapping (a section of keys), not {child!r}")
        node = child
    node[leaf] = value


def parse_scalar(text: str) -> Any:
    """CLI values are YAML scalars: `3` -> 3, `true` -> True, `null` -> None, else the string."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool, type(None))) else text


def load_config(path: Path | None, overrides: dict[str, Any] | None = None,
                given: Mapping[str, str] | None = None) -> RunConfig:
    """YAML file (optional) + dotted overrides -> validated RunConfig, or one EdgeError naming the key, or the flag
    that gave the bad value (`given`: dotted key -> flag and value as typed, see validation_error)."""
    data: dict[str, Any] = {}
    thing = f"config {path}" if path else "config"
    if path is not None:
        try:
            loaded = load_yaml(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EdgeError(f"config {path}", "file not found") from None
        except OSError as exc:
            raise EdgeError(f"config {path}", exc.strerror or "unreadable") from None
        except UnicodeDecodeError:
            raise EdgeError(f"config {path}", "not a UTF-8 text file (expected YAML)") from None
        except DuplicateKey as exc:
            raise EdgeError(f"config {path}", str(exc)) from None
        except yaml.YAMLError as exc:
            raise EdgeError(f"config {path}", f"invalid YAML ({' '.join(str(exc).split())})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise EdgeError(f"config {path}", "top level must be a mapping")
        data = loaded or {}
    for dotted, value in (overrides or {}).items():
        try:
            set_dotted(data, dotted, value)
        except ValueError as exc:
            raise EdgeError(thing, str(exc)) from None
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, thing, given or {}) from None
