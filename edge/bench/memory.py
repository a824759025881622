"""Resident memory of this process: current (VmRSS) and peak (VmHWM, else ru_maxrss), in MB."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

STATUS = Path("/proc/self/status")
MB = 1024 * 1024
KIB = 1024


def _status_kib(key: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def maxrss_mb() -> float:
    """getrusage peak: KiB on Linux, bytes on macOS."""
    raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return raw / MB if sys.platform == "darwin" else raw / KIB


def rss_mb() -> float:
    kib = _status_kib("VmRSS")
    return kib / KIB if kib is not None else maxrss_mb()


def peak_rss_mb() -> float:
    kib = _status_kib("VmHWM")
    return kib / KIB if kib is not None else maxrss_mb()


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
