"""`python -m edge [options]`: watch a source and report, face by face, which emotion it sees."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import threading
from collections.abc import Callable

from edge.commands.options import add_config_arguments, apply_log_level, config_from_args
from edge.config import RunConfig
from edge.errors import EdgeError
from edge.pipeline import Pipeline
from edge.stop_signals import StopSignals
from edge.types import FrameSource, Sink

log = logging.getLogger(__name__)

HELP = "Watch a camera (or file, stream, demo) and tell which emotion each face shows."
# Modules that add sinks, to `run` and `service` alike: each defines add_arguments(parser),
# check(args, cfg) -> settings | None (validates without starting anything; None = off) and
# build_sink(args, cfg) -> Sink | None (e.g. the web view, "edge.web").
SINK_PLUGINS: list[str] = ["edge.web"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    for name in SINK_PLUGINS:
        importlib.import_module(name).add_arguments(parser)


def open_run_source(cfg: RunConfig, cancel: threading.Event, watched: bool,
                    opened: FrameSource | None = None) -> FrameSource:
    """The configured source; with no source configured: camera 0, else the demo, looping in real time while it is
    `watched` (see watched_live), else bounded. `opened`: the configured source already opened by a probe
    (open_source of cfg.source, reconnect off)."""
    from edge.sources import open_source

    if opened is not None or cfg.source.uri is not None or cfg.source.kind != "auto":
        return open_source(cfg.source, cancel, opened)
    try:
        return open_source(cfg.source.model_copy(update={"kind": "camera", "uri": "0"}), cancel)
    except EdgeError as exc:
        loop = watched or cfg.source.loop
        frames = "looping" if loop else f"{cfg.source.demo_frames} frames"
        log.info("no camera at index 0 (%s); falling back to the built-in demo source (%s)", exc.problem, frames)
        return open_source(cfg.source.model_copy(update={"kind": "demo", "uri": "demo", "loop": loop}), cancel)


def watched_live(cfg: RunConfig, window: bool, extra_sinks: list[Sink]) -> bool:
    """Someone watches the run as it happens: the overlay window, the on-screen display or a sink that
    `shows_live` (the web view)."""
    return window or cfg.display.mode != "none" or any(getattr(sink, "shows_live", False) for sink in extra_sinks)


def paced_by_capture_time(source: FrameSource, cfg: RunConfig) -> bool:
    """Whether the annotated video is placed by capture time: a camera, a live stream, or a demo that plays in real
    time (`real_time`: looping); judged by the source opened, which for the demo fallback is not the one asked for."""
    from edge.sources import LIVE_KINDS, resolve_kind

    real_time = getattr(source, "real_time", None)
    return real_time if real_time is not None else resolve_kind(cfg.source)[0] in LIVE_KINDS


def wants_window(cfg: RunConfig) -> bool:
    """True when a window was asked for (`auto`/`on`) and a test window really opens (edge/sinks/window.py)."""
    from edge.sinks.window import window_unavailable_reason

    if cfg.output.window == "off":
        return False
    if cfg.display.mode != "none":
        from edge.display.sink import WINDOW_MODES

        if cfg.display.mode in WINDOW_MODES:  # the display's worker process owns the screen: no cv2 window to test
            return bool(os.environ.get("DISPLAY"))
    reason = window_unavailable_reason()
    if reason is None:
        return True
    if cfg.output.window == "on":
        raise EdgeError("window", f"{reason}; use --headless")
    log.info("%s; running headless", reason)
    return False


def bound_demo_when_window_fails(source: FrameSource, sinks: list[Sink], cfg: RunConfig) -> None:
    """The demo fallback loops only while a window shows it: should the window fail (and nothing else show the
    run live), the run goes on headless and ends after `source.demo_frames` like any headless demo run."""
    from edge.sinks.window import WindowSink

    if not getattr(source, "loop", False) or cfg.source.loop:
        return
    if any(getattr(sink, "shows_live", False) and not isinstance(sink, WindowSink) for sink in sinks):
        return
    for sink in sinks:
        if isinstance(sink, WindowSink):
            sink.on_failure = lambda: setattr(source, "loop", False)


def build_sinks(cfg: RunConfig, window: bool, fps: float | None = None, live: bool = False,
                stop_event: threading.Event | None = None) -> list[Sink]:
    """The sinks the config turns on; `fps` is the source's real frame rate (a video file's), for the video;
    `live`: a camera or stream, whose video is paced by capture time (edge.sinks.video); `stop_event`: the
    pipeline's, which ends the window's first-frame wait (edge.sinks.window)."""
    from edge.output_paths import check_output_files

    check_output_files(cfg)  # a store that cannot be opened leaves no empty events log behind, and so on
    sinks: list[Sink] = []
    by_track = cfg.tracking.enabled  # without tracking, ids change every frame: throttle per frame instead
    try:
        if cfg.output.events:
            from edge.sinks.events import JsonlEventSink

            sinks.append(JsonlEventSink(cfg.output.events_path, cfg.output.interval_s, by_track,
                                        cfg.output.events_max_mb, cfg.output.events_keep))
        if cfg.store.enabled:
            from edge.store import StoreSink

            sinks.append(StoreSink.from_config(cfg.store, cfg.output.interval_s, cfg.output.dir, by_track))
        if cfg.output.video is not None:
            from edge.sinks.video import VideoSink, refuse_source_as_output

            refuse_source_as_output(cfg.output.video, cfg.source.uri)

            sinks.append(VideoSink(cfg.output.video, fps or cfg.source.fps, real_time=live))
        if cfg.output.save_crops:
            from edge.sinks.crops import CropSink

            sinks.append(CropSink(cfg.output.dir / "crops", cfg.output.interval_s, by_track))
        from edge.display.sink import WINDOW_MODES

        if window and cfg.display.mode not in WINDOW_MODES:  # else the display's own process shows the overlay
            from edge.sinks.window import WindowSink

            sinks.append(WindowSink(stop_event=stop_event))
        if cfg.display.mode != "none":  # also in `python -m edge service` (docs/DISPLAY.md)
            from edge.display import build_display_sink

            sinks.append(build_display_sink(cfg.display))
    except BaseException:
        close_all(sinks)
        raise
    return sinks


def close_all(parts: list) -> None:
    """Close what a failed set-up already opened, newest first; a failure here must not hide the first one."""
    for part in reversed(parts):
        try:
            part.close()
        except Exception:  # noqa: BLE001 - the set-up error is the one to report
            log.exception("error while closing %s", type(part).__name__)


def build_plugin_sinks(args: argparse.Namespace, cfg: RunConfig) -> list[Sink]:
    """The sinks of SINK_PLUGINS that the flags and config turn on (the web view, ...)."""
    sinks: list[Sink] = []
    try:
        for name in SINK_PLUGINS:
            sink = importlib.import_module(name).build_sink(args, cfg)
            if sink is not None:
                sinks.append(sink)
    except BaseException:
        close_all(sinks)
        raise
    return sinks


def build_pipeline(cfg: RunConfig, window: bool = False, extra_sinks: list[Sink] | None = None,
                   source: FrameSource | None = None) -> Pipeline:
    """Everything that can fail on bad input fails here, before the first frame; a file source (image, folder,
    video) is opened, or a path naming nothing refused, before the models load (edge.sources.open_file_source).
    On failure whatever was opened here is closed again; `extra_sinks` stay open (they belong to the caller).
    `source`: the configured source already opened (the service's camera probe, edge/service/command.py), taken
    over by the pipeline (also closed here on failure) instead of opened again."""
    from edge.classifier import EmotionClassifier
    from edge.detectors import make_detector
    from edge.sources import open_file_source
    from edge.tracking import Tracker

    opened, cancel = source, threading.Event()
    parts: list = []
    try:
        if opened is None:
            opened = open_file_source(cfg.source)
        classifier = EmotionClassifier.from_config(cfg.classifier)
        parts.append(classifier)
        detector = make_detector(cfg.detector)
        parts.append(detector)
        source = open_run_source(cfg, cancel, watched_live(cfg, window, extra_sinks or []), opened)
        opened = None  # part of `source` now
        parts.append(source)
        own_sinks = build_sinks(cfg, window, getattr(source, "fps", None), live=paced_by_capture_time(source, cfg),
                                stop_event=cancel)
        parts.extend(own_sinks)
        sinks = own_sinks + list(extra_sinks or [])
        bound_demo_when_window_fails(source, sinks, cfg)
        pipeline = Pipeline(source, detector, classifier, Tracker(cfg.tracking, cfg.smoothing), sinks,
                            detect_every=cfg.detector.every, max_frames=cfg.max_frames, duration=cfg.duration,
                            stop_event=cancel,  # one event: stops the loop and interrupts reconnect backoff
                            max_gap_s=cfg.tracking.max_gap_s)
        log.info("running: source=%s detector=%s model=%s%s sinks=%s", source.name, type(detector).__name__,
                 cfg.classifier.model, " (with each face's mirror image)" if classifier.mirror_average else "",
                 [type(s).__name__ for s in sinks])
    except BaseException:  # also Ctrl-C while the models load
        close_all(parts if opened is None else [opened, *parts])
        raise
    return pipeline


def install_signal_handlers(stop: Callable[[], None]) -> StopSignals:
    """Ctrl-C, SIGTERM and SIGHUP call `stop` from here on (on a thread of their own: edge.stop_signals)."""
    return StopSignals(stop)


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    apply_log_level(cfg.log_level)
    window = wants_window(cfg)
    extra = build_plugin_sinks(args, cfg)
    try:
        pipeline = build_pipeline(cfg, window, extra)
    except BaseException:
        close_all(extra)
        raise
    signals = None
    try:
        try:  # a Ctrl-C before the handlers are in place stops the command (exit 130), the sinks closed all the same
            signals = install_signal_handlers(pipeline.request_stop)
            stats = pipeline.run()
        finally:
            pipeline.close()
        pipeline.log_results(stats)
    finally:  # until here a stop signal is only logged: the sinks flush, the results are said
        if signals is not None:
            signals.close()
    return 0
