"""On-screen overlay of an emotion display (docs/DISPLAY.md): the pipeline's picture with each face's emotion,
full screen in a desktop session or straight to the Linux framebuffer, as one more sink.

Import-light (edge.config imports edge.display.config): OpenCV is loaded by the display worker process only.
"""

from __future__ import annotations

from edge.display.config import DisplayConfig

__all__ = ["DisplayConfig", "build_display_sink"]


def build_display_sink(cfg: DisplayConfig):  # -> edge.display.sink.DisplaySink | None
    """The display sink for `cfg`, or None for mode `none`; raises EdgeError on a configuration that cannot work."""
    if cfg.mode == "none":
        return None
    from edge.display.sink import DisplaySink

    return DisplaySink.from_config(cfg)
