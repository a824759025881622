"""train.environment: the checks made before TensorFlow loads, and what loading it prints."""

from __future__ import annotations

import pytest

from edge.errors import EdgeError
from train import environment


@pytest.mark.parametrize("machine, flags, missing", [
    ("x86_64", "fpu sse2 avx avx2 fma", False),
    ("x86_64", "fpu sse2 sse4_2 popcnt", True),  # a Celeron/Pentium without AVX: the TensorFlow wheels abort
    ("aarch64", "fp asimd", False),  # Arm wheels need no AVX
])
def test_a_cpu_without_avx_is_found_before_tensorflow_loads(monkeypatch, tmp_path, machine, flags, missing):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    monkeypatch.setattr(environment.platform, "machine", lambda: machine)
    assert environment.missing_avx(cpuinfo) is missing
    monkeypatch.setattr(environment.missing_avx, "__defaults__", (cpuinfo,))
    if missing:
        with pytest.raises(EdgeError, match="this CPU has no AVX instructions, which the TensorFlow wheels need"):
            environment.require_tensorflow()
    else:
        environment.require_tensorflow()


def test_no_cpuinfo_is_not_taken_for_a_cpu_without_avx(monkeypatch, tmp_path):
    monkeypatch.setattr(environment.platform, "machine", lambda: "x86_64")
    assert environment.missing_avx(tmp_path / "none") is False
