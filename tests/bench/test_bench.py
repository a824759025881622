"""`python -m edge.bench` end to end in a tiny configuration: exit code, table, and every JSON field.

No timing is asserted: only that each figure exists, has the right type and is physically possible."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from edge.bench.spec import FORMAT, MODE_PIPELINE, PROCESSING, STAGES, WorkerSpec
from edge.bench.stats import percentile, summarise
from edge.bench.targets import TARGETS, evaluate
from edge.config import DEFAULT_FACE_MODEL
from tests.edge.helpers import REPO, edge_env

TINY = ["--frames", "3", "--warmup", "1", "--repeats", "2", "--threads", "1", "--sizes", "640x480", "--faces", "1",
        "--cold"]
SUMMARY_KEYS = {"median", "p90", "mean", "min", "max"}
MACHINE_KEYS = {"cpu", "cores", "os", "python", "packages", "memory_mb", "load_average_1m_at_start", "training_running"}
HELP = " (see python -m edge.bench --help)"


def run_bench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge.bench", *args], cwd=REPO, env=edge_env(),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_report(emotion_model, face_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    proc = run_bench(*TINY, "--detectors", "haar,mediapipe", "--model", str(emotion_model),
                     "--face-model", str(face_model), "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, json.loads(out.read_text())


def check_summary(summary: dict) -> None:
    assert set(summary) == SUMMARY_KEYS
    assert 0.0 <= summary["min"] <= summary["median"] <= summary["p90"] <= summary["max"]


def test_report_records_the_machine_and_model(tiny_report, emotion_model):
    _, report = tiny_report
    assert report["format"] == FORMAT
    assert MACHINE_KEYS <= set(report["machine"])
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"]
    for package in ("ai-edge-litert", "mediapipe", "numpy"):
        assert report["machine"]["packages"][package]
    assert any(name.startswith("opencv") for name in report["machine"]["packages"])
    assert report["model"]["path"] == str(emotion_model.resolve())
    assert report["options"]["frames"] == 3 and report["options"]["repeats"] == 2 and report["options"]["seed"] == 0
    assert report["model"]["mirror_average"] is False and report["classifier"]["mirror_average"] is False
    assert report["classifier"]["invoke_rows_per_face"] == 1
    assert all("--classifier.mirror_average" not in run["product_argv"] for run in report["runs"])


def test_every_configuration_has_every_figure(tiny_report):
    _, report = tiny_report
    runs = report["runs"]
    assert sorted(r["spec"]["detector"] for r in runs) == ["haar", "mediapipe"]
    for run in runs:
        assert set(run["stages"]) == set(STAGES)
        for stage in STAGES:
            check_summary(run["stages"][stage])
        check_summary(run["processing"])
        check_summary(run["frame"])
        assert run["frames_measured"] == 3 * 2  # warm-up excluded, repeats pooled
        per_repeat = run["fps"]["per_repeat"]
        assert len(per_repeat) == 2 and min(per_repeat) > 0
        # the median of two repeats is their mean (not the faster one), within the rounding to 0.01
        assert run["fps"]["median"] == pytest.approx(sum(per_repeat) / 2, abs=0.011)
        assert run["cpu_ms_per_frame"] > 0
        assert run["budget_share"] > 0
        memory = run["memory"]
        assert 0 < memory["peak_rss_first_frame_mb"] <= memory["peak_rss_mb"]
        startup = run["startup"]
        assert [p["name"] for p in startup["phases"]][-1] == "first frame"
        assert startup["first_frame_s"] == startup["phases"][-1]["at_s"] > 0
        assert run["faces_per_frame"] > 0  # the detectors find the astronaut
        assert run["product_argv"][:2] == ["--source", "demo"]


def test_classifier_alone_and_targets(tiny_report):
    stdout, report = tiny_report
    classifier = report["classifier"]
    assert classifier["threads"] == 1
    for part in ("one_face", "three_faces_per_face"):
        for step in ("preprocess", "invoke", "total"):
            check_summary(classifier[part][step])
    assert len(report["targets"]) == len(TARGETS)  # one run per detector at 640x480 with one face
    for target in report["targets"]:
        assert target["status"] in ("PASS", "MISS")
        assert target["status"] == ("PASS" if target["measured"] <= target["limit"] else "MISS")
        assert target["responsible"]
        assert f"{target['status']}  {target['detector']}" in stdout
    assert "machine:" in stdout and "classifier alone" in stdout


def test_mirror_average_is_measured_in_the_pipeline_and_the_classifier_alone(emotion_model, tmp_path):
    out = tmp_path / "bench.json"
    proc = run_bench(*TINY, "--detectors", "haar", "--model", str(emotion_model), "--mirror-average",
                     "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["model"]["mirror_average"] is True and report["options"]["mirror_average"] is True
    assert report["classifier"]["mirror_average"] is True
    assert report["classifier"]["invoke_rows_per_face"] == 2  # the worker's classifier really added the mirror images
    [run] = report["runs"]
    assert run["product_argv"][-2:] == ["--classifier.mirror_average", "true"] and run["faces_per_frame"] > 0
    assert "each face classified with its mirror image too" in proc.stdout


def test_the_default_models_are_found_from_another_folder(tmp_path):
    """As `python -m edge` finds models/ beside the code, so does the benchmark (it looked only in the working
    folder, and failed anywhere else)."""
    proc = subprocess.run([sys.executable, "-m", "edge.bench", *TINY, "--detectors", "haar", "--json", "-"],
                          cwd=tmp_path, env=edge_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["model"]["path"] == str(REPO / "models" / "emotion_int8.tflite")


def test_missing_model_is_a_one_line_error(tmp_path):
    proc = run_bench(*TINY, "--detectors", "haar", "--model", str(tmp_path / "none.tflite"), timeout=60)
    assert proc.returncode == 2
    assert "error: benchmark: emotion model" in proc.stderr


def test_bad_flags_are_rejected():
    proc = run_bench("--sizes", "640by480", timeout=60)
    assert proc.returncode == 2 and "640by480" in proc.stderr
    assert proc.stderr.strip().splitlines() == ["error: command line: size '640by480' is not WIDTHxHEIGHT (at least "
                                                "64x64) (see python -m edge.bench --help)"]


@pytest.mark.parametrize("args, message", [
    (["--no-such-flag"], "error: command line: unrecognized arguments: --no-such-flag "
                         "(see python -m edge.bench --help)"),
    (["--threads", "two"], "error: command line: 'two': expected positive integers separated by commas "
                           "(see python -m edge.bench --help)"),
], ids=["unknown-flag", "non-integer-list"])
def test_bad_flags_are_one_line(args, message):
    proc = run_bench(*args, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [message]


def test_corrupt_sidecar_is_a_one_line_error(emotion_model, tmp_path):
    model = tmp_path / emotion_model.name
    model.write_bytes(emotion_model.read_bytes())
    model.with_suffix(".json").write_text("{ not json")
    proc = run_bench(*TINY, "--detectors", "haar", "--model", str(model), timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [proc.stderr.strip().splitlines()[-1]]
    sidecar = model.with_suffix(".json")
    assert errors[0].startswith(f"error: benchmark: emotion model sidecar {sidecar}: unreadable JSON")


def test_unwritable_json_fails_before_measuring(emotion_model, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "bench.json"
    proc = run_bench(*TINY, "--detectors", "haar", "--model", str(emotion_model), "--json", str(target), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: benchmark: --json {target}: not writable")
    assert "classifier alone" not in proc.stdout + proc.stderr  # no configuration was run


def test_percentile_and_summary():
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.5
    assert percentile([1.0] * 5, 0.9) == 1.0
    assert percentile([], 0.9) == 0.0
    assert summarise([1.0, 2.0, 3.0, 4.0, 10.0])["p90"] == pytest.approx(7.6)


def test_missed_latency_target_names_the_slowest_stage():
    stages = {s: summarise([0.1]) for s in STAGES}
    stages["detect"] = summarise([40.0])
    processing = summarise([sum(stages[s]["median"] for s in PROCESSING)])
    run = {"spec": {"detector": "haar", "threads": 1, "width": 640, "height": 480, "faces": 1}, "stages": stages,
           "cpu_ms_per_frame": 12.0, "frame": summarise([41.0]),
           "processing": processing, "memory": {"peak_rss_mb": 100.0, "peak_rss_first_frame_mb": 90.0},
           "startup": {"first_frame_s": 2.0, "phases": [{"name": "python interpreter", "seconds": 0.1, "rss_mb": 10.0},
                                                        {"name": "edge imports", "seconds": 1.9, "rss_mb": 90.0}]}}
    results = {r.title: r for r in evaluate([run])}
    latency = results["per-frame processing, median"]
    assert latency.status == "MISS" and latency.responsible.startswith("detect 40.0")
    assert "machine busy" in latency.responsible  # 41 ms wall for 12 ms of CPU
    assert results["peak resident memory"].status == "PASS"
    startup = results["start-up to first frame"]
    assert startup.status == "MISS" and startup.responsible.startswith("edge imports 1.90")


def test_a_model_this_user_may_not_reach_or_read_is_named(emotion_model, deny_access, tmp_path):
    """EACCES (a folder of another user, a mode-0600 sidecar) is the one-line error, not a traceback."""
    from edge.bench.cli import BenchError, model_info

    private = tmp_path / "private"
    private.mkdir()
    model = private / emotion_model.name
    model.write_bytes(emotion_model.read_bytes())
    model.with_suffix(".json").write_bytes(emotion_model.with_suffix(".json").read_bytes())
    assert model_info(model)["bytes"] == emotion_model.stat().st_size
    deny_access(model.with_suffix(".json"))
    with pytest.raises(BenchError, match=r"emotion model sidecar .*: cannot read \(Permission denied\)"):
        model_info(model)
    deny_access(private)
    with pytest.raises(BenchError, match=rf"emotion model {model}: cannot access \(Permission denied\)"):
        model_info(model)


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "error: command line: argument --seed: -1: must be 0 or positive" + HELP),
    (["--faces", "50"], "error: command line: --faces 50: source.demo_faces: Input should be less than or equal to 6"
                        + HELP),
    (["--sizes", "64x64", "--faces", "3"], "error: command line: --sizes 64x64 --faces 3: frames too small for 3 "
                                           "face(s) in the demo clip (width at least 96, height at least 64)" + HELP),
    (["--sizes", "64x64", "--faces", "1"], "error: command line: --sizes 64x64: the classifier alone is measured at "
                                           "the first size with 3 faces, which needs a width of at least 96; list a "
                                           "wider size first" + HELP),
    (["--sizes", "99999x99999"], "error: command line: --sizes 99999x99999: source.width: Input should be less than "
                                 "or equal to 8192" + HELP),
    (["--timeout", "nan"], "error: command line: --timeout nan: must be a finite positive number (seconds per "
                           "configuration)" + HELP),
    (["--timeout", "inf"], "error: command line: --timeout inf: must be a finite positive number (seconds per "
                           "configuration)" + HELP),
], ids=["negative-seed", "too-many-faces", "faces-wider-than-frame", "classifier-clip-too-narrow", "huge-frame",
        "timeout-nan", "timeout-inf"])
def test_bad_values_fail_in_one_line_before_any_worker(emotion_model, args, message):
    """Each of these once reached a worker (a 15-line traceback, or a ValueError in the driver for the timeout)."""
    proc = run_bench(*TINY, "--detectors", "haar", "--model", str(emotion_model), *args, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [message]  # no log line: no worker started


def test_a_model_not_matching_its_sidecar_fails_before_any_worker(emotion_model, tmp_path):
    """The contract is checked by the classifier's own code (edge.contract, edge.classifier) in the driver."""
    model = tmp_path / emotion_model.name
    model.write_bytes(emotion_model.read_bytes())
    contract = json.loads(emotion_model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({**contract, "tflite_sha256": "0" * 64}))
    proc = run_bench(*TINY, "--detectors", "haar", "--model", str(model), timeout=60)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: benchmark: emotion model {model}: sha256 ") and "does not match its sidecar" in line


def test_a_worker_failure_is_the_workers_own_one_line_error(emotion_model, face_model, tmp_path):
    """A face model that exists but is no model passes the driver's checks; the worker's error is shown, not its
    traceback. (face_model: skipped where MediaPipe cannot run, which would fail otherwise.)"""
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a flatbuffer" * 100)
    proc = run_bench(*TINY, "--detectors", "mediapipe", "--model", str(emotion_model), "--face-model", str(garbage))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [proc.stderr.strip().splitlines()[-1]]
    assert errors[0].startswith(f"error: benchmark: mediapipe threads=1 640x480 faces=1: worker exited with 2: "
                                f"face model {garbage}: ")


def test_a_worker_crash_is_one_line_naming_the_exception(emotion_model, tmp_path):
    """An unexpected exception in the worker (here a seed numpy refuses, in a spec not written by the driver)."""
    spec = WorkerSpec(MODE_PIPELINE, "haar", 1, 640, 480, 1, 1, 0, 1, -1, str(emotion_model),
                      str(DEFAULT_FACE_MODEL), out=str(tmp_path / "result.json"))
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(replace(spec, launched_at=0.0).to_json()))
    proc = subprocess.run([sys.executable, "-m", "edge.bench.worker", str(spec_path)], cwd=REPO, env=edge_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: worker: ValueError: ") and "(at " in line
    assert not Path(spec.out).exists()


def test_worker_error_is_its_last_error_line():
    from edge.bench.cli import worker_error

    assert worker_error("INFO: delegate\nerror: source demo: too small\n") == "source demo: too small"
    assert worker_error("Fatal Python error: Segmentation fault\n  File x\n") == \
        "no error message (last output: File x)"
    assert worker_error("") == "no output"


def test_a_run_with_every_configuration_skipped_fails(emotion_model, tmp_path):
    missing = tmp_path / "none.tflite"
    proc = run_bench(*TINY, "--detectors", "mediapipe", "--model", str(emotion_model), "--face-model", str(missing),
                     timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [proc.stderr.strip().splitlines()[-1]] == [
        f"error: benchmark: nothing to measure, every requested configuration is skipped: mediapipe: {missing} missing "
        f"(run `python -m edge.fetch_detector --dest {missing}`)"]
    assert "classifier alone" not in proc.stdout + proc.stderr
