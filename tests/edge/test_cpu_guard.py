"""mediapipe 1.x SIGILLs on Pi 3/4 (no ARMv8.1 atomics): the edge must refuse it with a message instead."""

from edge.detectors.cpu import cpu_features, mediapipe_unsupported_reason

PI4_FEATURES = {"fp", "asimd", "evtstrm", "crc32", "cpuid"}
PI5_FEATURES = PI4_FEATURES | {"atomics", "fphp", "asimdhp", "asimdrdm", "lrcpc", "dcpop", "asimddp"}


def test_pi4_with_mediapipe_1_is_refused_with_the_fix_named():
    reason = mediapipe_unsupported_reason("aarch64", PI4_FEATURES, "1.2.2")
    assert reason is not None and "ARMv8.1 atomics" in reason and "mediapipe<1" in reason and "haar" in reason


def test_supported_combinations_pass():
    assert mediapipe_unsupported_reason("aarch64", PI4_FEATURES, "0.10.18") is None
    assert mediapipe_unsupported_reason("aarch64", PI5_FEATURES, "1.2.2") is None
    assert mediapipe_unsupported_reason("x86_64", set(), "1.2.2") is None


def test_cpu_features_reads_the_arm_features_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
                       "CPU implementer\t: 0x41\n")
    assert cpu_features(cpuinfo) == PI4_FEATURES
    assert cpu_features(tmp_path / "absent") == set()
