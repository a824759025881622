"""The window only where one really opens: an unreachable X server or a Wayland-only session means headless (never
a Qt abort), and the demo fallback, which loops only for a window, is bounded again when the window fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.edge.helpers import error_lines, run_edge

X_SOCKETS = Path("/tmp/.X11-unix")
UNUSED_DISPLAYS = range(150, 250)
FALLBACK_FRAMES = 5
SAFETY_FRAMES = 40  # ends a looping demo that the fix failed to bound


def unused_display() -> str:
    for number in UNUSED_DISPLAYS:
        if not (X_SOCKETS / f"X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return f":{number}"
    pytest.skip("no unused X display number")


def test_unreachable_x_display_runs_headless_to_the_end(emotion_model, tmp_path):
    display = unused_display()
    done = run_edge("--source", "demo", "--max-frames", "5", "--model", str(emotion_model), "--detector", "haar",
                    "--out", str(tmp_path), DISPLAY=display)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert f"cannot open a window on $DISPLAY={display}" in done.stdout and "running headless" in done.stdout
    assert "'WindowSink'" not in done.stdout and "summary: frames=5" in done.stdout
    assert (tmp_path / "events.jsonl").read_text().strip()


def test_wayland_only_session_runs_headless(emotion_model, tmp_path):
    done = run_edge("--source", "demo", "--max-frames", "5", "--model", str(emotion_model), "--detector", "haar",
                    "--out", str(tmp_path), WAYLAND_DISPLAY="wayland-0")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert "only $WAYLAND_DISPLAY is set" in done.stdout and "summary: frames=5" in done.stdout


def test_window_on_with_unreachable_display_is_one_line_error(emotion_model, tmp_path):
    display = unused_display()
    done = run_edge("--source", "demo", "--window", "on", "--model", str(emotion_model), "--detector", "haar",
                    "--out", str(tmp_path), DISPLAY=display)
    assert done.returncode == 2, done.stderr
    assert error_lines(done.stderr) == [error_lines(done.stderr)[0]]
    assert error_lines(done.stderr)[0].startswith(f"error: window: cannot open a window on $DISPLAY={display}")


def test_demo_fallback_is_bounded_when_the_window_fails(emotion_model, tmp_path, monkeypatch):
    import edge.sources
    from edge.commands.run import build_pipeline
    from edge.config import RunConfig
    from edge.errors import EdgeError
    from edge.sinks import window

    real_open = edge.sources.open_source

    def no_camera(cfg, cancel=None):
        if cfg.kind == "camera":
            raise EdgeError(f"source {cfg.uri}", "cannot open camera (test)")
        return real_open(cfg, cancel)

    monkeypatch.setattr(edge.sources, "open_source", no_camera)
    monkeypatch.delenv("DISPLAY", raising=False)  # the window's worker finds no X server: the window fails
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    cfg = RunConfig.model_validate({
        "source": {"demo_frames": FALLBACK_FRAMES}, "detector": {"type": "haar"},
        "classifier": {"model": str(emotion_model)}, "output": {"dir": str(tmp_path), "events": False},
        "max_frames": SAFETY_FRAMES})
    pipeline = build_pipeline(cfg, window=True)
    try:
        assert any(isinstance(s, window.WindowSink) for s in pipeline.sinks)
        stats = pipeline.run()
    finally:
        pipeline.close()
    assert stats.frames == FALLBACK_FRAMES


def test_the_display_modes_own_the_screen_so_no_test_window(monkeypatch):
    from edge.commands.run import wants_window
    from edge.config import RunConfig
    from edge.sinks import window

    def no_probe():
        raise AssertionError("a test window was opened although the display worker owns the screen")

    monkeypatch.setattr(window, "window_unavailable_reason", no_probe)
    monkeypatch.setenv("DISPLAY", unused_display())
    assert wants_window(RunConfig.model_validate({"display": {"mode": "fullscreen"}}))
    monkeypatch.delenv("DISPLAY")
    assert not wants_window(RunConfig.model_validate({"display": {"mode": "window"}}))
