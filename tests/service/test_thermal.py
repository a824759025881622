"""Pi temperature and throttling for the status line: read when present, silently absent otherwise."""

from __future__ import annotations

import os
import stat

from edge.service.thermal import Health, ThermalProbe, parse_throttled


def test_sysfs_readings(tmp_path):
    zone, throttled = tmp_path / "temp", tmp_path / "get_throttled"
    zone.write_text("52345\n")
    throttled.write_text("50005\n")  # under-voltage + throttled now, and both since boot
    health = ThermalProbe(zone, throttled, vcgencmd=None).read()
    assert health == Health(52.345, 0x50005)
    text = health.describe()
    assert text.startswith("temp=52.3C throttled=0x50005")
    assert "now: under-voltage,throttled" in text and "since boot: under-voltage,throttled" in text


def test_vcgencmd_fallback_is_a_real_subprocess(tmp_path, monkeypatch):
    tool = tmp_path / "bin" / "vcgencmd"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n[ \"$1\" = get_throttled ] && echo throttled=0x0 && exit 0\nexit 1\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")
    health = ThermalProbe(tmp_path / "no-zone", tmp_path / "no-sysfs").read()
    assert health == Health(None, 0) and health.describe() == "throttled=0x0"


def test_absent_everything_is_omitted(tmp_path):
    probe = ThermalProbe(tmp_path / "none", tmp_path / "none2", vcgencmd="no-such-vcgencmd-tool")
    assert probe.read() == Health() and Health().describe() == ""


def test_failing_vcgencmd_is_asked_once(tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    tool = tmp_path / "vcgencmd"
    tool.write_text(f"#!/bin/sh\necho call >> {calls}\necho 'VCHI initialization failed' >&2\nexit 255\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    probe = ThermalProbe(tmp_path / "none", tmp_path / "none2")
    assert probe.throttled() is None and probe.throttled() is None
    assert calls.read_text().count("call") == 1


def test_parse_throttled_forms():
    assert parse_throttled("throttled=0x50000\n") == 0x50000
    assert parse_throttled("0") == 0
    assert parse_throttled("garbage") is None
