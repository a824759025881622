"""End to end in headless Chromium: the live page's stream updates and its chart renders; a photo upload works."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.cdp import CHROMIUM
from tests.web.images import astronaut_jpeg

pytestmark = pytest.mark.slow

# A checksum of the stream <img> as currently shown (drawn into a small canvas; same origin, so readable).
STREAM_HASH = """(() => {
  const img = document.getElementById('stream');
  if (!img || !img.complete || !img.naturalWidth) return null;
  const c = document.createElement('canvas'); c.width = 80; c.height = 60;
  const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0, 80, 60);
  const d = ctx.getImageData(0, 0, 80, 60).data; let h = 0;
  for (let i = 0; i < d.length; i++) h = (h * 31 + d[i]) >>> 0;
  return h;
})()"""
# Pixels of the share chart painted in one of the emotion colours.
CHART_PIXELS = """(() => {
  const canvas = document.getElementById('shares');
  const colours = Object.values(JSON.parse(document.body.dataset.colours))
    .map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4)
    if (d[i + 3] === 255 && colours.some((c) => c[0] === d[i] && c[1] === d[i + 1] && c[2] === d[i + 2])) n++;
  return n;
})()"""


@pytest.fixture
def browser(tmp_path: Path):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} absent (Debian package `chromium`, installed by scripts/test.sh)")
    pytest.importorskip("websocket", reason="websocket-client (requirements-test.txt) is not installed")
    from tests.web.cdp import Chromium

    chromium = Chromium(tmp_path / "profile")
    try:
        chromium.call("Runtime.enable")
        yield chromium
    finally:
        chromium.close()


def test_live_page_and_photo_upload_in_chromium(view, browser, tmp_path: Path):
    browser.navigate(view.url)

    first = browser.wait_for(STREAM_HASH, "the first stream frame")
    browser.wait_for(f"(() => {{ const h = {STREAM_HASH}; return h !== null && h !== {first}; }})()",
                     "the stream image to change")

    browser.wait_for("Number(document.getElementById('shares').dataset.buckets || 0) >= 1", "the chart to draw")
    assert browser.evaluate(CHART_PIXELS) > 50
    assert browser.evaluate("document.getElementById('legend').children.length") == 7
    browser.wait_for("document.querySelectorAll('#faces .face').length >= 1", "a face card")
    assert "FPS" in browser.evaluate("document.getElementById('status').textContent")

    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    browser.navigate(view.url + "photo")
    browser.set_file("#file", photo)
    browser.evaluate("document.getElementById('upload').requestSubmit()")
    faces = browser.wait_for("document.getElementById('message').dataset.faces", "the upload result")
    assert int(faces) >= 1
    browser.wait_for("[...document.querySelectorAll('#results img.chart')]"
                     ".every((i) => i.complete && i.naturalWidth > 0)"
                     " && document.getElementById('annotated').naturalWidth > 0", "the result images")
    assert browser.evaluate("document.getElementById('annotated').naturalWidth") == 512
    assert browser.evaluate("document.querySelectorAll('#results img.chart').length") == int(faces)
    assert browser.exceptions() == []


def test_the_live_picture_comes_back_after_the_device_restarts(emotion_model, browser):
    """A service restart ends the MJPEG stream and the <img> keeps its last picture: the page must point it at the
    new process's stream (before, the picture stayed frozen while the status line went on counting)."""
    from tests.web.conftest import start_view, wait_for_frames

    first_view, stop_first = start_view(emotion_model)
    try:
        wait_for_frames(first_view)
        browser.navigate(first_view.url)
        browser.wait_for(STREAM_HASH, "the first stream frame")
    finally:
        stop_first()
    frozen = browser.wait_for(STREAM_HASH, "the last picture of the ended stream")
    second_view, stop_second = start_view(emotion_model, port=first_view.port)
    try:
        wait_for_frames(second_view)
        browser.wait_for(f"(() => {{ const h = {STREAM_HASH}; return h !== null && h !== {frozen}; }})()",
                         "the new process's stream in the page")
        assert "retry=" in browser.evaluate("document.getElementById('stream').src")
    finally:
        stop_second()


# The share chart of a 300 s window in 10 s buckets: the current bucket (0.5 s old), the last full one (10.5 s),
# and one older than the window that the stats still hold while it ages out (309 s); each all one label.
CHART_GEOMETRY = """(() => {
  const labels = ['angry', 'happy', 'sad'];
  const bucket = (age, label) => ({age_s: age, faces: 1, shares: {[label]: 1}});
  const stats = {window_s: 300, bucket_s: 10, labels,
                 buckets: [bucket(309, 'angry'), bucket(10.5, 'sad'), bucket(0.5, 'happy')]};
  const canvas = document.createElement('canvas'); canvas.width = 480; canvas.height = 220;
  EdgeChart.drawShares(canvas, stats);
  const d = canvas.getContext('2d').getImageData(0, 0, 480, 220).data;
  const columns = (label) => {
    const c = [1, 3, 5].map((i) => parseInt(EdgeChart.colour(label).slice(i, i + 2), 16));
    const xs = new Set();
    for (let i = 0; i < d.length; i += 4)
      if (d[i + 3] === 255 && d[i] === c[0] && d[i + 1] === c[1] && d[i + 2] === c[2]) xs.add((i / 4) % 480);
    return [...xs];
  };
  return {angry: columns('angry'), happy: columns('happy'), sad: columns('sad')};
})()"""


def test_the_share_chart_gives_each_bucket_its_own_slot_inside_the_plot(view, browser):
    """Before, the current bucket's bar was drawn over the last full one's, and a bucket ageing out of the window
    over the axis labels."""
    browser.navigate(view.url)
    browser.wait_for("window.EdgeChart !== undefined", "the chart script")
    columns = browser.evaluate(CHART_GEOMETRY)
    assert columns["happy"] and columns["sad"] and not set(columns["happy"]) & set(columns["sad"])
    assert min(columns["sad"]) < min(columns["happy"])  # the older bucket left of the newer one
    assert columns["angry"] == []  # older than the window: not drawn


def test_the_page_of_a_service_waiting_for_its_camera_says_what_it_waits_for(emotion_model, browser, tmp_path: Path):
    from tests.web.test_web_cli import MISSING_CAMERA, service_waiting_for_its_camera

    edge = service_waiting_for_its_camera(emotion_model, tmp_path)
    try:
        browser.navigate(edge.wait_for_url())
        status = browser.wait_for("(() => { const t = document.getElementById('status').textContent;"
                                  " return t.startsWith('waiting for source') ? t : null; })()", "the waiting line")
        assert MISSING_CAMERA in status and "cannot open camera" in status
        assert browser.exceptions() == []
    finally:
        edge.kill()
