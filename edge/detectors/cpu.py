"""Can this CPU run the installed mediapipe? Checked before import, because the failure is a SIGILL.

mediapipe 1.x aarch64 wheels are built for ARMv8.1 atomics (LSE); the Pi 3, Pi 4 and Zero 2 (Cortex-A53/A72)
lack them and the process dies on load. mediapipe 0.10.x runs there (scripts/install.sh pins it on such CPUs).
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

ARM64_MACHINES = ("aarch64", "arm64")
LSE_FEATURE = "atomics"
CPUINFO = Path("/proc/cpuinfo")
FIRST_LSE_MEDIAPIPE_MAJOR = 1


def cpu_features(cpuinfo: Path = CPUINFO) -> set[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    return {word for line in text.splitlines() if line.lower().startswith("features") for word in line.split(":", 1)[1].split()}


def mediapipe_unsupported_reason(machine: str | None = None, features: set[str] | None = None,
                                 mediapipe_version: str | None = None) -> str | None:
    """Why the installed mediapipe cannot run on this CPU, or None when it can (or cannot be told)."""
    machine = machine or platform.machine()
    if machine.lower() not in ARM64_MACHINES:
        return None
    features = cpu_features() if features is None else features
    if not features or LSE_FEATURE in features:
        return None
    try:
        version = mediapipe_version or metadata.version("mediapipe")
    except metadata.PackageNotFoundError:
        return None
    if int(version.split(".")[0]) < FIRST_LSE_MEDIAPIPE_MAJOR:
        return None
    return (f"mediapipe {version} needs ARMv8.1 atomics, which this CPU lacks (Pi 3/4/Zero 2); "
            "pip install 'mediapipe<1' 'numpy<2' (scripts/install.sh does) or use --detector haar")
