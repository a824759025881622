"""`python -m edge service --config /etc/emotion-edge/config.yaml`: the normal pipeline, headless, with the
SQLite store and sd_notify. Waits for a missing or busy camera (or a stream that is down) instead of failing
(READY=1 goes out once it waits, with STATUS= saying for what, so boot is not held up); any other source error is
a configuration error.
Exit codes: 0 stopped cleanly, 1 events could not be stored or a passing problem (edge.errors.TransientError:
the web port is busy), 2 bad configuration (the unit does not restart on 2).
`--check-config` only validates the configuration.
"""

from __future__ import annotations

import argparse
import grp
import importlib
import logging
import stat
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from edge.commands.options import add_config_arguments, apply_log_level, config_from_args
from edge.commands.run import SINK_PLUGINS, build_pipeline, build_plugin_sinks, close_all, install_signal_handlers
from edge.config import RunConfig
from edge.errors import SourceUnavailable
from edge.pipeline import Pipeline, RunStats
from edge.service.monitor import ServiceMonitor, ServiceSink
from edge.service.notify import Notifier
from edge.service.thermal import ThermalProbe
from edge.types import FrameSource, Sink

if TYPE_CHECKING:  # imported where used (store_sink): sqlite3 and the store only once the service runs
    from edge.store import StoreSink

log = logging.getLogger(__name__)

HELP = "Run headless as a systemd service: the normal pipeline with the SQLite event store and sd_notify."
DEFAULT_CAMERA = "0"
# where the service treats a key otherwise than the run command (service_config): its --help says so
SERVICE_HELPS = {
    "source.uri": "camera index, /dev/videoN, file, folder, URL, 'demo' or 'picamera2' (default: camera 0, waited "
                  "for while missing; no demo fallback)",
    "source.kind": "auto guesses from uri; no uri = camera 0, waited for while missing",
    "output.window": "ignored: the service never opens a window (a screen: --display.mode)",
    "--headless": "has no effect: the service is always headless",
}
EXIT_UNSTORED = 1
CHECK_DEST = "check_config"
CHECK_LOG_LEVEL = "warning"
SERVICE_GROUPS = ("video",)  # SupplementaryGroups= of systemd/emotion-edge.service: a file of these groups may be 0640


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The run command's flags, sink plugins (the web view) included, and --check-config."""
    parser.add_argument("--check-config", dest=CHECK_DEST, action="store_true",
                        help="load and validate the configuration (file and flags), print one line (and a warning "
                             "on stderr if the service's user cannot read the file), exit (0 = ok, 2 = error); opens "
                             "no camera, model or port")
    add_config_arguments(parser, helps=SERVICE_HELPS)
    for name in SINK_PLUGINS:
        importlib.import_module(name).add_arguments(parser)


def service_config(cfg: RunConfig) -> RunConfig:
    """Never a window, always the store, and a real camera rather than the demo fallback."""
    if cfg.output.window == "on":
        log.warning("output.window on is ignored: the service never opens a window (a screen: display.mode)")
    cfg.output.window = "off"
    cfg.store.enabled = True
    if cfg.source.uri is None and cfg.source.kind == "auto":
        log.info("no source configured; using camera %s", DEFAULT_CAMERA)
        cfg.source.uri = DEFAULT_CAMERA
    return cfg


def open_ready_source(cfg: RunConfig) -> FrameSource:
    """The configured source, opened once without reconnecting: SourceUnavailable while the camera is still
    missing. A retry asks this first, so it does not load the models again every few seconds only to find no
    camera; the opened source goes to build_pipeline as it is (a camera opened, closed and at once opened again
    can fail: picamera2's "Failed to acquire camera" while libcamera still releases it)."""
    from edge.sources import open_source

    return open_source(cfg.source.model_copy(update={"reconnect": False}))


def check_sinks_before_waiting(cfg: RunConfig) -> None:
    """The output files' and the display's configuration errors, found without creating or opening anything
    (edge.output_paths.check_output_files, edge.display.sink.check_config) and raised before the service waits for
    its camera: build_pipeline makes the sinks after the camera, so without this a store that can never be written
    or a window without $DISPLAY would only fail (exit 2) once the camera appears, hours after READY=1."""
    from edge.output_paths import check_output_files

    check_output_files(cfg)  # the events log, the store, the video: as build_sinks checks them
    if cfg.display.mode != "none":
        from edge.display.sink import check_config as check_display

        check_display(cfg.display)


def say_waiting(monitor: ServiceMonitor, sinks: list[Sink], why: str) -> None:
    """Why no frame came yet, to systemd (READY=1 the first time, then STATUS=) and to the sinks that show it (the
    web view; `waiting` is an optional hook of edge.types.Sink)."""
    monitor.wait_for(why)
    for sink in sinks:
        if hasattr(sink, "waiting"):
            sink.waiting(why)


def build_when_source_ready(cfg: RunConfig, monitor: ServiceMonitor, sinks: list[Sink],
                            stop: threading.Event) -> Pipeline | None:
    """build_pipeline, retried with backoff while a live source (camera, stream) cannot be opened yet. Only that
    waits: any other error (a bad model, picamera2 not importable, a store or display that cannot work) is raised at
    once (exit 2). The first attempt loads the models before it opens the camera, so once it waits the service is
    up: READY=1 then, not at the camera's first frame (a unit "activating" for as long as the camera is missing
    holds up the end of boot)."""
    delay, attempt = cfg.source.backoff_initial_s, 0
    while not stop.is_set():
        try:
            opened = open_ready_source(cfg) if attempt else None
            if opened is not None:  # the models load again before the first frame: seconds on a Pi
                say_waiting(monitor, sinks, f"source {cfg.source.uri} opened: loading the models")
            return build_pipeline(cfg, window=False, extra_sinks=sinks, source=opened)  # owns `opened` now
        except SourceUnavailable as exc:
            if attempt == 0:
                check_sinks_before_waiting(cfg)
            attempt += 1
            if attempt == 1:
                log.error("%s: %s; waiting for it (retrying with backoff up to %.0f s)", exc.thing, exc.problem,
                          cfg.source.backoff_max_s)
            else:
                log.debug("%s still unavailable (attempt %d): %s", exc.thing, attempt, exc.problem)
            say_waiting(monitor, sinks, f"waiting for {exc.thing}: {exc.problem}")  # READY=1 the first time
            if stop.wait(delay):
                break
            delay = min(cfg.source.backoff_max_s, delay * 2)
    return None


def store_sink(pipeline: Pipeline) -> StoreSink | None:
    from edge.store import StoreSink

    return next((s for s in pipeline.sinks if isinstance(s, StoreSink)), None)


def _group_name(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return None


def service_cannot_read(path: Path) -> str | None:
    """Why the service's throw-away user (DynamicUser=yes) could not read `path`, or None. Root can read a mode
    0600 file, so a check run as root would pass while the service then fails with exit 2 (never restarted)."""
    try:
        info = path.stat()
    except OSError:
        return None  # load_config has already read it, or reported why not
    mode = info.st_mode
    if mode & stat.S_IROTH or (mode & stat.S_IRGRP and _group_name(info.st_gid) in SERVICE_GROUPS):
        return None
    return (f"not readable by other users (mode {stat.S_IMODE(mode):04o}): the service's dynamic user cannot read "
            f"it and exits 2; chmod 644 (keep the web token in an EnvironmentFile=, docs/WEB.md) or 640 with group "
            f"{SERVICE_GROUPS[0]}")


def check_config(args: argparse.Namespace, cfg: RunConfig) -> int:
    """--check-config: the configuration as the service would use it (keys and values, the web settings, the
    model file and its sidecar, an explicit mediapipe detector's face model, the source's kind and module, the
    events log's folder, a configured store file and its folder, outputs that collide), checked
    without opening a camera, loading a model, binding a port or creating a folder."""
    from edge.config import resolve_data_path
    from edge.contract import load_contract
    from edge.detectors import check_detector
    from edge.output_paths import check_output_files
    from edge.sources import check_source

    model = resolve_data_path(cfg.classifier.model)
    load_contract(model)
    check_detector(cfg.detector)
    check_source(cfg.source)
    # the store only when configured: else it is the unit's StateDirectory=, which systemd makes and owns
    check_output_files(cfg, check_store=cfg.store.path is not None)
    plugins = [name.rsplit(".", 1)[-1] for name in SINK_PLUGINS
               if importlib.import_module(name).check(args, cfg) is not None]
    print(f"config {args.config or '(defaults)'}: ok (source {cfg.source.uri}, model {model}, "
          f"plugins: {', '.join(plugins) or 'none'})")
    problem = service_cannot_read(Path(args.config)) if args.config else None
    if problem:
        print(f"warning: config {args.config}: {problem}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    checking = getattr(args, CHECK_DEST)
    cfg = config_from_args(args)
    # the check's output is its one line (and warnings); a run logs at its configured level from the start
    apply_log_level(CHECK_LOG_LEVEL if checking else cfg.log_level)
    cfg = service_config(cfg)
    if checking:
        return check_config(args, cfg)
    extra = build_plugin_sinks(args, cfg)  # a bad web setting is a configuration error (exit 2) before anything
    try:
        return serve(cfg, extra)
    finally:
        close_all(extra)  # left here only when no pipeline was built (a pipeline closes its own sinks)


def duration_timer(duration: float | None, stop: threading.Event) -> threading.Timer | None:
    """--duration also bounds the start: loading the models and waiting for a missing camera, where the pipeline's
    own timer (from its first frame on) does not run yet. A started timer that sets `stop`, or None without one.
    Once the source opens, the run gets the whole --duration of its own."""
    if duration is None:
        return None

    def reached() -> None:
        log.info("stopping: --duration %.1f s reached while starting (models, source)", duration)
        stop.set()

    timer = threading.Timer(duration, reached)
    timer.daemon = True
    timer.start()
    return timer


def serve(cfg: RunConfig, extra: list[Sink]) -> int:
    """Build (waiting for the camera) and run the pipeline; `extra` is emptied once the pipeline owns it."""
    notifier = Notifier()
    monitor = ServiceMonitor(notifier, ThermalProbe())
    early_stop = threading.Event()
    signals = install_signal_handlers(early_stop.set)  # a stop while models load or the camera is missing
    try:  # to the end a stop signal is only logged: the store flushes, the results are said
        monitor.start()
        try:
            deadline = duration_timer(cfg.duration, early_stop)
            try:
                pipeline = build_when_source_ready(cfg, monitor, [ServiceSink(monitor), *extra], early_stop)
            finally:
                if deadline is not None:
                    deadline.cancel()
            if pipeline is None:
                notifier.stopping("stopped before the camera appeared")
                return 0
            extra.clear()  # the pipeline owns them now
            signals.retarget(pipeline.request_stop)  # a stop handed to early_stop.set is in early_stop now
            if early_stop.is_set():
                pipeline.request_stop()
            stats, store = run_until_stopped(pipeline, monitor, notifier)
        finally:
            monitor.stop()
        return report(pipeline, stats, store)
    finally:
        signals.close()  # the handlers from before: a SIGTERM from here on ends the process at once


def run_until_stopped(pipeline: Pipeline, monitor: ServiceMonitor,
                      notifier: Notifier) -> tuple[RunStats, StoreSink | None]:
    """Run until stopped; the store flushed and every part closed, whatever ends it."""
    try:
        store = store_sink(pipeline)
        monitor.attach(pipeline.source, store)
        stats = pipeline.run()
    finally:
        notifier.stopping("stopping: flushing the event store")
        pipeline.close()
    return stats, store


def report(pipeline: Pipeline, stats: RunStats, store: StoreSink | None) -> int:
    """The results logged; the exit code (EXIT_UNSTORED when events were logged but not committed)."""
    pipeline.log_results(stats)
    if store is None:
        return 0
    log.info("service: %d events logged, %d committed, %d dropped", store.events_logged, store.events_committed,
             store.events_dropped)
    return EXIT_UNSTORED if store.events_committed < store.events_logged else 0
