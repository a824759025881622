"""Raspberry Pi health for the status line: SoC temperature and the firmware's throttling flags.

Each reading is optional: on machines without the file or tool it is simply absent (no error, no log spam).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
# The Pi firmware driver exposes the same flags as `vcgencmd get_throttled` without a subprocess.
THROTTLED_SYSFS = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")
VCGENCMD = "vcgencmd"
VCGENCMD_TIMEOUT_S = 2.0
MILLI = 1000.0
# Bits of get_throttled (Raspberry Pi documentation): current state in the low bits, "has occurred" above.
THROTTLE_BITS = {0: "under-voltage", 1: "freq-capped", 2: "throttled", 3: "soft-temp-limit"}
OCCURRED_SHIFT = 16


@dataclass(frozen=True)
class Health:
    temp_c: float | None = None
    throttled: int | None = None

    def describe(self) -> str:
        """`temp=52.1C throttled=0x50000(now: none; since boot: under-voltage,throttled)`; '' if nothing known."""
        parts = []
        if self.temp_c is not None:
            parts.append(f"temp={self.temp_c:.1f}C")
        if self.throttled is not None:
            now = [name for bit, name in THROTTLE_BITS.items() if self.throttled >> bit & 1]
            past = [name for bit, name in THROTTLE_BITS.items() if self.throttled >> (bit + OCCURRED_SHIFT) & 1]
            detail = f"(now: {','.join(now) or 'none'}; since boot: {','.join(past) or 'none'})" if self.throttled else ""
            parts.append(f"throttled={self.throttled:#x}{detail}")
        return " ".join(parts)


def parse_throttled(text: str) -> int | None:
    """`throttled=0x50005` (vcgencmd) or `50005` (sysfs, hex) -> int."""
    value = text.strip().split("=")[-1].strip()
    try:
        return int(value, 16)
    except ValueError:
        return None


class ThermalProbe:
    """Reads what exists; paths and the vcgencmd name are parameters for tests and other boards."""

    def __init__(self, thermal_zone: Path = THERMAL_ZONE, throttled_sysfs: Path = THROTTLED_SYSFS,
                 vcgencmd: str | None = VCGENCMD) -> None:
        self.thermal_zone, self.throttled_sysfs = Path(thermal_zone), Path(throttled_sysfs)
        self.vcgencmd = shutil.which(vcgencmd) if vcgencmd else None
        self._vcgencmd_ok = self.vcgencmd is not None

    def temperature_c(self) -> float | None:
        try:
            return int(self.thermal_zone.read_text().strip()) / MILLI
        except (OSError, ValueError):
            return None

    def throttled(self) -> int | None:
        try:
            return parse_throttled(self.throttled_sysfs.read_text())
        except OSError:
            pass
        if not self._vcgencmd_ok:
            return None
        try:
            done = subprocess.run([self.vcgencmd, "get_throttled"], capture_output=True, text=True,
                                  timeout=VCGENCMD_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("vcgencmd get_throttled failed: %s", exc)
            done = None
        if done is None or done.returncode != 0:
            self._vcgencmd_ok = False  # e.g. no /dev/vchiq access: stop asking, the field stays absent
            return None
        return parse_throttled(done.stdout)

    def read(self) -> Health:
        return Health(self.temperature_c(), self.throttled())
