"""A Ctrl-C after `python -m edge`'s pipeline is built but before the run's own handlers are in place (the gap in
edge.commands.run.run between build_pipeline and install_signal_handlers) still closes the pipeline: every sink,
the source and the models, as a run that ends normally does. The command then ends as one stopped before its run
started: one line, exit 130.

Run in this process, so that the sinks can be watched: a real SIGINT is sent as install_signal_handlers is called."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import edge.commands.run as run_command
from edge.pipeline import Pipeline
from edge.sinks.events import JsonlEventSink
from tests.edge.helpers import main_in_process

INTERRUPTED = "interrupted: the command did not finish; run it again"


def test_ctrl_c_before_the_runs_handlers_are_installed_closes_the_pipeline(emotion_model: Path, tmp_path: Path,
                                                                           monkeypatch, capsys) -> None:
    closed: list[object] = []
    events_sinks: list[JsonlEventSink] = []
    install = run_command.install_signal_handlers

    def ctrl_c_first(stop):  # noqa: ANN001, ANN202 - as install_signal_handlers
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (main_in_process restores it)
        os.kill(os.getpid(), signal.SIGINT)  # KeyboardInterrupt as soon as Python checks for signals
        return install(stop)

    def closing(cls: type):  # noqa: ANN202 - wraps cls.close
        original = cls.close

        def close(self) -> None:  # noqa: ANN001
            closed.append(self)
            original(self)

        return close

    def recorded_init(original):  # noqa: ANN001, ANN202 - wraps JsonlEventSink.__init__
        def init(self, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
            original(self, *args, **kwargs)
            events_sinks.append(self)

        return init

    monkeypatch.setattr(run_command, "install_signal_handlers", ctrl_c_first)
    monkeypatch.setattr(Pipeline, "close", closing(Pipeline))
    monkeypatch.setattr(JsonlEventSink, "close", closing(JsonlEventSink))
    monkeypatch.setattr(JsonlEventSink, "__init__", recorded_init(JsonlEventSink.__init__))

    code, stderr = main_in_process(["--source", "demo", "--max-frames", "30", "--headless", "--detector", "haar",
                                    "--model", str(emotion_model), "--out", str(tmp_path)], monkeypatch, capsys)

    assert code == 130, stderr[-3000:]
    assert stderr.strip().splitlines() == [INTERRUPTED], stderr[-3000:]
    assert len(events_sinks) == 1, "the run's events log sink was not built"
    sink = events_sinks[0]
    assert [type(part) for part in closed] == [Pipeline, JsonlEventSink], closed  # Pipeline.close closes its sinks
    assert closed[1] is sink
    assert sink._file is None or sink._file.closed, "the events log was left open"
    assert sink.path.is_file()
