"""One benchmark configuration in a fresh process: `python -m edge.bench.worker SPEC.json`.

Start-up is measured on the product's own path (`python -m edge` argument parsing, `build_pipeline`, the
demo source, `Pipeline.run`) from the moment the driver launched this process to the first processed frame.
The measured frames then run through the same Pipeline object with the JPEG clip source, an overlay sink
and a recorder. Heavy modules are imported inside the functions so each import lands in its start-up phase.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edge.bench.memory import MB, cpu_seconds, maxrss_mb, peak_rss_mb, rss_mb
from edge.bench.spec import CLASSIFIER_CLIP_FACES, MODE_CLASSIFIER, PROCESSING, STAGES, WorkerSpec
from edge.bench.stats import summarise
from edge.errors import EdgeError

if TYPE_CHECKING:
    from edge.pipeline import Pipeline

log = logging.getLogger(__name__)

CLASSIFIER_MIN_ITERATIONS = 50
EXIT_FAILED = 1  # an unexpected exception (a bug); an EdgeError exits with its own code
ERROR_THING = "worker"


@dataclass
class Phase:
    name: str
    seconds: float  # duration of this phase
    at_s: float  # since launch
    rss_mb: float  # resident memory at its end


@dataclass
class StartupClock:
    """Marks phase ends against the driver's launch time (wall clock, shared across processes)."""

    launched_at: float
    phases: list[Phase] = field(default_factory=list)

    def mark(self, name: str, at: float | None = None) -> None:
        now = (time.time() if at is None else at) - self.launched_at
        previous = self.phases[-1].at_s if self.phases else 0.0
        self.phases.append(Phase(name, round(now - previous, 4), round(now, 4), round(rss_mb(), 1)))

    def as_dict(self) -> dict:
        return {"first_frame_s": self.phases[-1].at_s if self.phases else 0.0,
                "phases": [asdict(p) for p in self.phases]}


def product_argv(spec: WorkerSpec) -> list[str]:
    """The `python -m edge` arguments of this configuration (demo source, headless, one frame, no event log)."""
    return ["--source", "demo", "--detector", spec.detector, "--threads", str(spec.threads), "--model", spec.model,
            "--detector.mediapipe.model", spec.face_model, "--source.width", str(spec.width),
            "--source.height", str(spec.height), "--source.demo_faces", str(spec.faces), "--headless",
            "--output.events", "false", "--max-frames", "1", "--log-level", "warning",
            *(["--classifier.mirror_average", "true"] if spec.mirror_average else [])]


def import_detector_runtime(detector: str) -> None:
    """What the chosen detector imports when it is built, so its cost shows as its own phase."""
    if detector == "mediapipe":
        from edge.no_tensorflow import mediapipe_import

        with mediapipe_import():
            import mediapipe  # noqa: F401
            from mediapipe.tasks.python import vision  # noqa: F401
    else:
        import edge.detectors.haar  # noqa: F401


def start_pipeline(spec: WorkerSpec, clock: StartupClock) -> tuple[Pipeline, list[str]]:
    """Build and run the product's pipeline to its first frame, marking each start-up phase on `clock`."""
    from edge.cli import build_parser
    from edge.commands.options import config_from_args
    from edge.commands.run import build_pipeline

    clock.mark("edge imports")
    argv = product_argv(spec)
    cfg = config_from_args(build_parser("run")[1].parse_args(argv))
    clock.mark("config")
    from edge.litert import interpreter_module

    interpreter_module()
    clock.mark("litert import")
    import_detector_runtime(spec.detector)
    clock.mark(f"{spec.detector} import")
    pipeline = build_pipeline(cfg, window=False)
    clock.mark("models and source")
    pipeline.run()
    clock.mark("first frame")
    return pipeline, argv


def run_repeats(pipeline: Pipeline, frames: int, repeats: int) -> tuple[list[float], list[float]]:
    """Frames per second and CPU milliseconds per frame of each of `repeats` runs of `frames` frames."""
    fps, cpu_ms = [], []
    for _ in range(repeats):
        pipeline.max_frames = pipeline.stats.frames + frames
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        pipeline.run()
        wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
        fps.append(frames / wall if wall > 0 else 0.0)
        cpu_ms.append(cpu * 1e3 / frames)
    return fps, cpu_ms


def bench_pipeline(spec: WorkerSpec, entered: float) -> dict:
    """Start-up on the product's path, then `spec.repeats` timed runs on the JPEG clip source."""
    clock = StartupClock(spec.launched_at)
    clock.mark("python interpreter", at=entered)
    pipeline, argv = start_pipeline(spec, clock)
    first_frame_peak = peak_rss_mb()

    import cv2

    from edge.bench.instrument import DrawSink, PreprocessTimer, Recorder
    from edge.bench.source import JpegClipSource

    pipeline.source.close()
    source = JpegClipSource((spec.width, spec.height), spec.faces, spec.seed)
    pipeline.source = source
    recorder = Recorder(source, PreprocessTimer(pipeline.classifier))
    pipeline.add_sink(DrawSink())
    pipeline.add_sink(recorder)

    pipeline.max_frames = pipeline.stats.frames + spec.warmup
    pipeline.run()
    recorder.recording = True
    fps, cpu_ms = run_repeats(pipeline, spec.frames, spec.repeats)
    clip_mb = source.encoded_bytes / MB
    pipeline.close()

    series = recorder.stage_series()
    n = len(recorder.records)
    processing = [sum(series[s][i] for s in PROCESSING) for i in range(n)]
    frame = [sum(series[s][i] for s in STAGES) for i in range(n)]
    return {
        "spec": spec.to_json(),
        "product_argv": argv,
        "startup": clock.as_dict(),
        "stages": {s: summarise(series[s]) for s in STAGES},
        "processing": summarise(processing),
        "frame": summarise(frame),
        "fps": {"median": round(statistics.median(fps), 2), "per_repeat": [round(f, 2) for f in fps]},
        "cpu_ms_per_frame": round(statistics.median(cpu_ms), 3),
        "memory": {"peak_rss_mb": round(peak_rss_mb(), 1), "ru_maxrss_mb": round(maxrss_mb(), 1),
                   "peak_rss_first_frame_mb": round(first_frame_peak, 1),
                   "bench_clip_mb": round(clip_mb, 1)},
        "faces_per_frame": round(sum(r.faces for r in recorder.records) / n, 3) if n else 0.0,
        "frames_measured": n,
        "opencv_threads": cv2.getNumThreads(),
    }


def _per_face(classifier, clip, iterations: int, warmup: int) -> dict:
    pre, infer, total, rows_per_face = [], [], [], set()
    for i in range(warmup + iterations):
        image, boxes = clip[i % len(clip)], clip.boxes(i % len(clip))
        t0 = time.perf_counter()
        batch = classifier.preprocess(image, boxes)
        t1 = time.perf_counter()
        rows_per_face.add(batch.shape[0] / len(boxes))
        classifier.postprocess(classifier.infer(batch))
        t2 = time.perf_counter()
        if i >= warmup:
            pre.append((t1 - t0) * 1e3 / len(boxes))
            infer.append((t2 - t1) * 1e3 / len(boxes))
            total.append((t2 - t0) * 1e3 / len(boxes))
    return {"preprocess": summarise(pre), "invoke": summarise(infer), "total": summarise(total),
            "invoke_rows_per_face": max(rows_per_face)}


def bench_classifier(spec: WorkerSpec) -> dict:
    """The emotion classifier alone on the clip's true face boxes: ms per face, one and three faces per invoke."""
    from edge.classifier import EmotionClassifier
    from edge.demo import PERIOD_FRAMES, make_demo_frames

    classifier = EmotionClassifier(Path(spec.model), num_threads=spec.threads, batch=True,
                                   mirror_average=spec.mirror_average)
    iterations = max(CLASSIFIER_MIN_ITERATIONS, spec.frames * spec.repeats)
    size = (spec.width, spec.height)
    one, three = (_per_face(classifier, make_demo_frames(PERIOD_FRAMES, size, faces, spec.seed), iterations,
                            spec.warmup) for faces in CLASSIFIER_CLIP_FACES)
    classifier.close()
    return {"spec": spec.to_json(), "threads": spec.threads, "iterations": iterations,
            "mirror_average": classifier.mirror_average,
            "invoke_rows_per_face": one["invoke_rows_per_face"],
            "one_face": one, "three_faces_per_face": three}


def unexpected_error_line(exc: Exception) -> str:
    """One line for an exception that is not an EdgeError (a bug): its type, message and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return " ".join(f"error: {ERROR_THING}: {exc.__class__.__name__}: {exc}{where}".split())


def main(argv: list[str] | None = None) -> int:
    """Measure one configuration; a failure is one `error: ...` line on stderr (the driver shows that line)."""
    entered = time.time()
    parser = argparse.ArgumentParser(prog="python -m edge.bench.worker", description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="WorkerSpec as JSON (written by python -m edge.bench)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        spec = WorkerSpec.from_json(json.loads(args.spec.read_text()))
        result = bench_classifier(spec) if spec.mode == MODE_CLASSIFIER else bench_pipeline(spec, entered)
        Path(spec.out).write_text(json.dumps(result, indent=1))
    except EdgeError as exc:
        print(exc.one_line(), file=sys.stderr, flush=True)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - any failure is reported to the driver as one line
        print(unexpected_error_line(exc), file=sys.stderr, flush=True)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
