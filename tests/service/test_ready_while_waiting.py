"""With the camera missing at start the service sends READY=1 once it is up and waiting (STATUS= says for what),
instead of staying "activating" until the camera appears: multi-user.target is ordered after the unit
(WantedBy=multi-user.target), so boot never completed (`systemctl is-system-running`: starting) while the camera
was missing. The watchdog pings go on through the wait."""

from __future__ import annotations

import logging
import signal
import time

from edge.pipeline import Pipeline
from edge.service.monitor import ServiceMonitor, ServiceSink
from edge.service.thermal import ThermalProbe
from tests.service.test_service import READY_TIMEOUT_S, finish, start
from tests.service.test_status_fps import FakeClock, NoFaces, RecordingNotifier, UnevenCamera

MISSING = "/dev/video97"
APPEARED_FRAMES_S = 1.0  # of the camera's own clock: a few frames, all within one status interval
WATCHDOG_USEC = "1000000"  # pings every 0.5 s
PINGS_AFTER_READY_S = 3.0


def test_ready_arrives_while_the_camera_is_missing(service_model, notify_socket, tmp_path):
    proc = start(service_model, tmp_path / "events.db", notify_socket, "--source", MISSING,
                 WATCHDOG_USEC=WATCHDOG_USEC)
    try:
        notify_socket.wait_for("READY", proc, READY_TIMEOUT_S)
        assert proc.poll() is None  # up and waiting, not crashed
        fields = notify_socket.fields()
        keys = [k for k, _ in fields]
        ready_key, ready_status = fields[keys.index("READY") + 1]  # sent in READY=1's own message
        assert ready_key == "STATUS"
        assert ready_status.startswith(f"waiting for source {MISSING}: cannot open camera"), ready_status
        time.sleep(PINGS_AFTER_READY_S)
        after_ready = notify_socket.fields()[len(fields):]
        assert ("WATCHDOG", "1") in after_ready, after_ready  # the monitor thread keeps the watchdog fed
        assert any(k == "STATUS" and v.startswith(f"waiting for source {MISSING}") for k, v in after_ready)
    finally:
        proc.send_signal(signal.SIGTERM)
    code, out, err = finish(proc)
    assert code == 0, err[-3000:]
    keys = [k for k, _ in notify_socket.fields()]
    assert keys.count("READY") == 1 and "EXTEND_TIMEOUT_USEC" not in keys  # no start to extend once ready
    assert f"service ready, waiting for source {MISSING}" in out


def test_a_camera_that_appears_after_ready_sends_no_second_ready(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = RecordingNotifier()
    monitor = ServiceMonitor(notifier, ThermalProbe(tmp_path / "none", tmp_path / "none", vcgencmd=None))
    for _ in range(3):  # the retries of build_when_source_ready
        monitor.wait_for(f"waiting for source {MISSING}: cannot open camera (no such device or busy)")
    assert [f for f in notifier.sent if f == "READY=1"] == ["READY=1"] and notifier.ready_sent

    camera, stub = UnevenCamera(FakeClock()), NoFaces()
    camera.end = camera.clock.now + APPEARED_FRAMES_S
    with caplog.at_level(logging.INFO, logger="edge.service.monitor"):
        Pipeline(camera, stub, stub, stub, [ServiceSink(monitor)]).run()
    assert notifier.sent.count("READY=1") == 1
    statuses = [f for f in notifier.sent if f.startswith("STATUS=")]
    assert statuses[-1].startswith("STATUS=fps=0.0 faces=0 frames=1"), statuses  # no longer "waiting for ..."
    assert monitor.waiting is None
    assert any(r.getMessage().startswith("first frame: fps=0.0") for r in caplog.records), caplog.text
