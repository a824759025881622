"""`python -m edge service --config /etc/emotion-edge/config.yaml`: the normal pipeline, headless, with the
SQLite store and sd_notify. Waits for a missing camera instead of failing (systemd sees STATUS= and
start-timeout extensions meanwhile). Exit codes: 0 stopped cleanly, 1 events could not be stored,
2 bad configuration (the unit does not restart on 2).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from edge.commands.options import add_config_arguments, config_from_args
from edge.commands.run import build_pipeline, install_signal_handlers
from edge.config import RunConfig
from edge.errors import EdgeError
from edge.pipeline import Pipeline
from edge.service.monitor import ServiceMonitor, ServiceSink
from edge.service.notify import Notifier
from edge.service.thermal import ThermalProbe
from edge.sources import LIVE_KINDS, resolve_kind

log = logging.getLogger(__name__)

HELP = "Run headless as a systemd service: the normal pipeline with the SQLite event store and sd_notify."
DEFAULT_CAMERA = "0"
EXTEND_MARGIN_S = 30.0  # start-timeout extension beyond the next camera retry
EXIT_UNSTORED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def service_config(cfg: RunConfig) -> RunConfig:
    """Never a window, always the store, and a real camera rather than the demo fallback."""
    cfg.output.window = "off"
    cfg.store.enabled = True
    if cfg.source.uri is None and cfg.source.kind == "auto":
        log.info("no source configured; using camera %s", DEFAULT_CAMERA)
        cfg.source.uri = DEFAULT_CAMERA
    return cfg


def build_when_source_ready(cfg: RunConfig, monitor: ServiceMonitor, sink: ServiceSink,
                            stop: threading.Event) -> Pipeline | None:
    """build_pipeline, retried with backoff while a live source (camera, stream) cannot be opened yet."""
    kind, _ = resolve_kind(cfg.source)
    delay, attempt = cfg.source.backoff_initial_s, 0
    while not stop.is_set():
        try:
            return build_pipeline(cfg, window=False, extra_sinks=[sink])
        except EdgeError as exc:
            if kind not in LIVE_KINDS or not exc.thing.startswith("source"):
                raise
            attempt += 1
            if attempt == 1:
                log.error("%s: %s; waiting for it (retrying with backoff up to %.0f s)", exc.thing, exc.problem,
                          cfg.source.backoff_max_s)
            else:
                log.debug("%s still unavailable (attempt %d): %s", exc.thing, attempt, exc.problem)
            monitor.waiting = f"waiting for {exc.thing}: {exc.problem}"
            monitor.notifier.status(monitor.waiting)
            monitor.notifier.extend_start(delay + EXTEND_MARGIN_S)
            if stop.wait(delay):
                break
            delay = min(cfg.source.backoff_max_s, delay * 2)
    return None


def store_sink(pipeline: Pipeline):  # noqa: ANN201 - StoreSink | None
    from edge.store import StoreSink

    return next((s for s in pipeline.sinks if isinstance(s, StoreSink)), None)


def run(args: argparse.Namespace) -> int:
    cfg = service_config(config_from_args(args))
    logging.getLogger().setLevel(cfg.log_level.upper())
    notifier = Notifier()
    monitor = ServiceMonitor(notifier, ThermalProbe())
    sink = ServiceSink(monitor)
    early_stop = threading.Event()
    install_signal_handlers(early_stop.set)  # a stop while models load or the camera is missing
    monitor.start()
    try:
        pipeline = build_when_source_ready(cfg, monitor, sink, early_stop)
        if pipeline is None:
            notifier.stopping("stopped before the camera appeared")
            return 0
        store = store_sink(pipeline)
        monitor.attach(pipeline.source, store)
        install_signal_handlers(pipeline.request_stop)
        if early_stop.is_set():
            pipeline.request_stop()
        try:
            stats = pipeline.run()
        finally:
            notifier.stopping("stopping: flushing the event store")
            pipeline.close()
    finally:
        monitor.stop()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    log.info(stats.summary())
    for part in pipeline.sinks:
        where = part.describe()
        if where:
            log.info("results: %s", where)
    if store is None:
        return 0
    log.info("service: %d events logged, %d committed, %d dropped", store.events_logged, store.events_committed,
             store.events_dropped)
    return EXIT_UNSTORED if store.events_committed < store.events_logged else 0
