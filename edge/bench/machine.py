"""Which machine the numbers come from: no figure without its machine."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("ai-edge-litert", "tflite-runtime", "opencv-contrib-python", "opencv-python", "opencv-python-headless",
            "mediapipe", "numpy", "scikit-image", "pydantic")
CPUINFO = Path("/proc/cpuinfo")
MEMINFO = Path("/proc/meminfo")
OS_RELEASE = Path("/etc/os-release")
BOARD_MODEL = Path("/proc/device-tree/model")  # Raspberry Pi and other device-tree boards
CPUFREQ = Path("/sys/devices/system/cpu/cpu0/cpufreq")  # absent in most VMs
KHZ_PER_MHZ = 1000
KIB = 1024


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _field(text: str, *names: str) -> str:
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in names and value.strip():
            return value.strip()
    return ""


def cpu_model() -> str:
    info = _read(CPUINFO)
    name = _field(info, "model name", "hardware", "cpu model")
    if not name:
        try:  # ARM boards often only name the core in lscpu
            out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
            name = _field(out, "model name")
        except (OSError, subprocess.SubprocessError):
            name = ""
    return name or platform.processor() or platform.machine()


def os_name() -> str:
    pretty = _field(_read(OS_RELEASE).replace("=", ":"), "pretty_name").strip('"')
    return f"{pretty} ({platform.platform()})" if pretty else platform.platform()


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def training_running() -> bool:
    """Another heavy job on the machine (this project's trainer) makes every figure slower and noisier."""
    try:
        return subprocess.run(["pgrep", "-f", "python -m train"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def cpu_frequency() -> dict:
    """Governor and maximum clock (a Pi on `ondemand` or throttled by heat is slower than its spec)."""
    governor = _read(CPUFREQ / "scaling_governor").strip() or None
    max_khz = _read(CPUFREQ / "cpuinfo_max_freq").strip()
    return {"governor": governor, "max_mhz": int(max_khz) // KHZ_PER_MHZ if max_khz.isdigit() else None}


def describe_machine() -> dict:
    memory_kib = _field(_read(MEMINFO), "memtotal").split()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": cpu_model(),
        "board": _read(BOARD_MODEL).strip("\x00\n ") or None,
        "architecture": platform.machine(),
        "cores": os.cpu_count() or 0,
        "cpu_frequency": cpu_frequency(),
        "usable_cores": usable,
        "memory_mb": round(int(memory_kib[0]) / KIB) if memory_kib and memory_kib[0].isdigit() else None,
        "os": os_name(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "load_average_1m_at_start": round(load[0], 2),
        "training_running": training_running(),
    }
