"""The shared test helpers themselves: what they change in this process is undone for the tests after them."""

from __future__ import annotations

import logging

from edge.commands.options import QUIET_LOGGERS
from tests.edge.helpers import main_in_process


def test_main_in_process_restores_the_logger_levels_the_command_sets(emotion_model, monkeypatch, capsys):
    """apply_log_level sets the root logger's level and the quiet loggers' (here to warning, for --check-config):
    left so, a later test's caplog or logging would see another level than its own."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in QUIET_LOGGERS)]
    saved = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.INFO)  # not what --check-config sets
        code, err = main_in_process(["service", "--check-config", "--model", str(emotion_model)], monkeypatch, capsys)
        assert code == 0, err
        assert [logger.level for logger in loggers] == [logging.INFO] * len(loggers)
    finally:
        for logger, level in zip(loggers, saved):
            logger.setLevel(level)
