"""`python -m edge.bench`: run every configuration in a fresh worker process, print tables, write JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from edge.bench.machine import describe_machine
from edge.bench.report import render
from edge.bench.spec import (CLASSIFIER_CLIP_FACES, FORMAT, FRAME_BUDGET_MS, MODE_CLASSIFIER, MODE_PIPELINE, WorkerSpec,
                             parse_size)
from edge.bench.targets import evaluate
from edge.cli_common import OneLineParser, non_negative_int, path_argument
from edge.config import DEFAULT_EMOTION_MODEL, DEFAULT_FACE_MODEL, SourceConfig, resolve_data_path
from edge.contract import sidecar_path
from edge.demo import MIN_HEIGHT_PX, MIN_LANE_PX
from edge.errors import EdgeError
from edge.fetch_detector import fetch_command
from edge.interrupts import interrupted
from edge.staged import is_stdout, staged

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = DEFAULT_EMOTION_MODEL
DETECTORS = ("haar", "mediapipe")
DEFAULTS = {"frames": 200, "warmup": 20, "repeats": 3, "detectors": "haar,mediapipe", "threads": "1,2",
            "sizes": "640x480,1280x720", "faces": "1,3"}
QUICK = {"frames": 30, "warmup": 5, "repeats": 1, "detectors": "haar,mediapipe", "threads": "2",
         "sizes": "640x480", "faces": "1"}
CLASSIFIER_THREADS = 1
WORKER_TIMEOUT_S = 900
EXIT_BAD_INPUT = 2
ERROR_PREFIX = "error: "
SIZE_FLAG, FACES_FLAG = "--sizes", "--faces"


class BenchError(Exception):
    """A configuration could not be measured; the message says which and why."""


@dataclass(frozen=True)
class BenchOptions:
    frames: int
    warmup: int
    repeats: int
    detectors: tuple[str, ...]
    threads: tuple[int, ...]
    sizes: tuple[tuple[int, int], ...]
    faces: tuple[int, ...]
    seed: int
    model: Path
    face_model: Path
    cold: bool
    timeout_s: float
    mirror_average: bool = False


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive integers separated by commas")
    return values


def _detector_list(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    unknown = [v for v in values if v not in DETECTORS]
    if not values or unknown:
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {','.join(DETECTORS)}")
    return values


def _size_list(text: str) -> tuple[tuple[int, int], ...]:
    try:
        sizes = tuple(parse_size(v.strip()) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not sizes:
        raise argparse.ArgumentTypeError(f"{text!r}: expected sizes WxH separated by commas")
    return sizes


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m edge.bench", description=__doc__.splitlines()[0].split(": ", 1)[1],
                           epilog="Start it with `nice -n 19` on a machine that is busy with other work; "
                                  "the report records the load. See docs/BENCHMARKS.md.")
    parser.add_argument("--frames", type=int, help=f"measured frames per repeat (default {DEFAULTS['frames']})")
    parser.add_argument("--warmup", type=int, help=f"unmeasured frames before the repeats (default {DEFAULTS['warmup']})")
    parser.add_argument("--repeats", type=int, help=f"measured passes per configuration (default {DEFAULTS['repeats']})")
    parser.add_argument("--detectors", help=f"comma list (default {DEFAULTS['detectors']})")
    parser.add_argument("--threads", help=f"LiteRT thread counts, comma list (default {DEFAULTS['threads']})")
    parser.add_argument("--sizes", help=f"frame sizes WxH, comma list (default {DEFAULTS['sizes']})")
    parser.add_argument("--faces", help=f"faces in the clip, comma list (default {DEFAULTS['faces']})")
    parser.add_argument("--quick", action="store_true",
                        help="small run: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()) + " (explicit flags win)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="clip seed, 0 or positive (background clutter, face phases)")
    parser.add_argument("--model", type=path_argument, default=DEFAULT_MODEL, help="emotion model .tflite (+ .json sidecar)")
    parser.add_argument("--face-model", type=path_argument, default=DEFAULT_FACE_MODEL, help="MediaPipe BlazeFace model")
    parser.add_argument("--mirror-average", action="store_true",
                        help="classify each face with its mirror image (classifier.mirror_average: true)")
    parser.add_argument("--cold", action="store_true",
                        help="skip the discarded start-up per detector that warms the OS file cache")
    parser.add_argument("--timeout", type=float, default=WORKER_TIMEOUT_S, help="seconds per configuration")
    parser.add_argument("--json", type=path_argument, help="also write the full report here")
    return parser


def options_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> BenchOptions:
    base = QUICK if args.quick else DEFAULTS
    pick = lambda name: getattr(args, name) if getattr(args, name) is not None else base[name]  # noqa: E731
    try:
        options = BenchOptions(frames=int(pick("frames")), warmup=int(pick("warmup")), repeats=int(pick("repeats")),
                               detectors=_detector_list(str(pick("detectors"))), threads=_int_list(str(pick("threads"))),
                               sizes=_size_list(str(pick("sizes"))), faces=_int_list(str(pick("faces"))),
                               seed=args.seed, model=resolve_data_path(args.model).resolve(),
                               face_model=resolve_data_path(args.face_model).resolve(),
                               cold=args.cold, timeout_s=args.timeout, mirror_average=args.mirror_average)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if options.frames < 1 or options.repeats < 1 or options.warmup < 0:
        parser.error("--frames and --repeats must be >= 1, --warmup >= 0")
    if not (math.isfinite(options.timeout_s) and options.timeout_s > 0):
        parser.error(f"--timeout {options.timeout_s:g}: must be a finite positive number (seconds per configuration)")
    problem = clip_problem(options)
    if problem:
        parser.error(problem)
    return options


def _source_problem(flag: str, value: str, **settings: int) -> str | None:
    """`settings` of the demo source (width, height, demo_faces) against the edge config's own limits."""
    try:
        SourceConfig(kind="demo", **settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"{flag} {value}: source.{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return None


def _too_small(width: int, height: int, faces: int) -> bool:
    """The demo clip's own rule (edge.demo.DemoClip): each face needs a lane of MIN_LANE_PX, the frame MIN_HEIGHT_PX."""
    return width < MIN_LANE_PX * faces or height < MIN_HEIGHT_PX


def clip_problem(options: BenchOptions) -> str | None:
    """Why a requested clip could not be made by the demo source the workers use, or None: every size and face
    count within the config's limits, and every frame size wide enough for its faces (the classifier alone uses
    the first size with CLASSIFIER_CLIP_FACES)."""
    for width, height in options.sizes:
        problem = _source_problem(SIZE_FLAG, f"{width}x{height}", width=width, height=height)
        if problem:
            return problem
    for faces in options.faces:
        problem = _source_problem(FACES_FLAG, str(faces), demo_faces=faces)
        if problem:
            return problem
    for width, height in options.sizes:
        for faces in options.faces:
            if _too_small(width, height, faces):
                return (f"{SIZE_FLAG} {width}x{height} {FACES_FLAG} {faces}: frames too small for {faces} face(s) in "
                        f"the demo clip (width at least {MIN_LANE_PX * faces}, height at least {MIN_HEIGHT_PX})")
    (width, height), faces = options.sizes[0], max(CLASSIFIER_CLIP_FACES)
    if _too_small(width, height, faces):
        return (f"{SIZE_FLAG} {width}x{height}: the classifier alone is measured at the first size with {faces} "
                f"faces, which needs a width of at least {MIN_LANE_PX * faces}; list a wider size first")
    return None


def check_json_target(path: Path) -> None:
    """Prove up front that --json can be written, so a typo fails now and not after the whole benchmark."""
    if path.is_dir():
        raise BenchError(f"--json {path}: is a directory, expected a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".write-probe-"):
            pass  # a real probe: os.access says yes to root even on read-only mounts
    except OSError as exc:
        raise BenchError(f"--json {path}: not writable ({exc.strerror or exc})") from None


def model_info(path: Path) -> dict:
    sidecar = sidecar_path(path)
    try:
        present = path.is_file() and sidecar.is_file()
    except OSError as exc:  # EACCES: a folder on the way that this user may not enter
        raise BenchError(f"emotion model {path}: cannot access ({exc.strerror or exc})") from None
    if not present:
        raise BenchError(f"emotion model {path} or its sidecar {sidecar.name} is missing "
                         "(run `python -m convert`, or pass --model PATH)")
    try:
        contract = json.loads(sidecar.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BenchError(f"emotion model sidecar {sidecar}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchError(f"emotion model sidecar {sidecar}: unreadable JSON "
                         f"({exc.__class__.__name__}: {exc})") from None
    if not isinstance(contract, dict):
        raise BenchError(f"emotion model sidecar {sidecar}: expected a JSON object")
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": contract.get("tflite_sha256", ""),
            "source_run": contract.get("source_run", ""), "metrics": contract.get("metrics")}


def check_emotion_model(path: Path, mirror_average: bool) -> bool:
    """Load the model as the product's classifier does (edge.classifier: sidecar, sha256, tensors against the
    sidecar), so a model the workers would refuse is one error here, before any worker starts. Returns whether
    the classifier will add each face's mirror image (not for a model that averages it in itself)."""
    from edge.classifier import EmotionClassifier

    try:
        classifier = EmotionClassifier(path, num_threads=CLASSIFIER_THREADS, mirror_average=mirror_average)
        classifier.close()
        return classifier.mirror_average
    except EdgeError as exc:
        raise BenchError(f"emotion {exc.thing}: {exc.problem}" if exc.thing.startswith("model ")
                         else f"{exc.thing}: {exc.problem}") from None


class WorkerRunner:
    """Starts `python -m edge.bench.worker` per configuration; the launch time is the start-up clock's zero."""

    def __init__(self, workdir: Path, timeout_s: float) -> None:
        self.workdir, self.timeout_s, self.count = workdir, timeout_s, 0
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))

    def run(self, spec: WorkerSpec) -> dict:
        self.count += 1
        spec_path, out = self.workdir / f"spec-{self.count}.json", self.workdir / f"result-{self.count}.json"
        spec = replace(spec, out=str(out), launched_at=time.time())
        spec_path.write_text(json.dumps(spec.to_json()))
        try:
            proc = run_worker([sys.executable, "-m", "edge.bench.worker", str(spec_path)], self.env, self.timeout_s)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{describe(spec)}: no result within {self.timeout_s:.0f} s") from None
        if proc.returncode != 0 or not out.is_file():
            raise BenchError(f"{describe(spec)}: worker exited with {proc.returncode}: {worker_error(proc.stderr)}")
        return json.loads(out.read_text())


def run_worker(cmd: list[str], env: dict[str, str], timeout_s: float) -> subprocess.CompletedProcess:
    """subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s), except that on a timeout or a Ctrl-C
    the worker is killed and waited for before the error goes on (subprocess.run does not wait after a Ctrl-C):
    none is left running, or writing into the folder that is being removed."""
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def worker_error(stderr: str) -> str:
    """The worker's own one-line error (its last `error: ...` line), else its last line of output."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    if errors:
        return errors[-1].removeprefix(ERROR_PREFIX)
    return f"no error message (last output: {lines[-1]})" if lines else "no output"


def describe(spec: WorkerSpec) -> str:
    if spec.mode == MODE_CLASSIFIER:
        return f"classifier alone threads={spec.threads}"
    return f"{spec.detector} threads={spec.threads} {spec.size} faces={spec.faces}"


def plan(options: BenchOptions) -> tuple[list[WorkerSpec], list[str]]:
    """Pipeline specs for every combination, and the reasons for any skipped."""
    specs, skipped = [], []
    for detector in options.detectors:
        if detector == "mediapipe" and not options.face_model.is_file():
            skipped.append(f"mediapipe: {options.face_model} missing (run `{fetch_command(options.face_model)}`)")
            continue
        for threads in options.threads:
            for width, height in options.sizes:
                for faces in options.faces:
                    specs.append(WorkerSpec(MODE_PIPELINE, detector, threads, width, height, faces, options.frames,
                                            options.warmup, options.repeats, options.seed, str(options.model),
                                            str(options.face_model), out="", mirror_average=options.mirror_average))
    return specs, skipped


def run_benchmark(options: BenchOptions, argv: list[str]) -> dict:
    model = model_info(options.model)
    model["mirror_average"] = check_emotion_model(options.model, options.mirror_average)
    options = replace(options, mirror_average=model["mirror_average"])
    specs, skipped = plan(options)
    if not specs:
        raise BenchError("nothing to measure, every requested configuration is skipped: " + "; ".join(skipped))
    machine = describe_machine()
    runs = []
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        runner = WorkerRunner(Path(tmp), options.timeout_s)
        if not options.cold:
            for detector in dict.fromkeys(s.detector for s in specs):  # warm the file cache; result discarded
                log.info("warming up: one discarded start-up with %s", detector)
                first = next(s for s in specs if s.detector == detector)
                runner.run(replace(first, frames=1, warmup=0, repeats=1))
        for i, spec in enumerate(specs, 1):
            log.info("[%d/%d] %s", i, len(specs), describe(spec))
            run = runner.run(spec)
            run["budget_share"] = round(run["frame"]["median"] / FRAME_BUDGET_MS, 4)
            runs.append(run)
        size = options.sizes[0]
        log.info("classifier alone, %d thread", CLASSIFIER_THREADS)
        classifier = runner.run(WorkerSpec(MODE_CLASSIFIER, "none", CLASSIFIER_THREADS, size[0], size[1], 1,
                                           options.frames, options.warmup, options.repeats, options.seed,
                                           str(options.model), str(options.face_model), out="",
                                           mirror_average=options.mirror_average))
    return {
        "format": FORMAT,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m edge.bench", *argv]),
        "machine": machine,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "frame_budget_ms": round(FRAME_BUDGET_MS, 3),
        "model": model,
        "face_model": str(options.face_model),
        "runs": runs,
        "classifier": classifier,
        "targets": [t.as_dict() for t in evaluate(runs)],
        "skipped": skipped,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        return bench(argv)
    except KeyboardInterrupt:  # the running worker is killed first (run_worker); what was printed stays printed
        return interrupted()


def bench(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        options = options_from_args(args, parser)
    except EdgeError as exc:
        print(exc.one_line(), file=sys.stderr, flush=True)
        return exc.exit_code
    try:
        if args.json is not None:
            check_json_target(args.json)
        report = run_benchmark(options, argv)
    except BenchError as exc:
        print(f"error: benchmark: {exc}", file=sys.stderr, flush=True)  # a worker failure adds its stderr tail
        return EXIT_BAD_INPUT
    json_to_stdout = args.json is not None and is_stdout(args.json)
    print(render(report), file=sys.stderr if json_to_stdout else sys.stdout, flush=True)  # `--json - | jq ...`
    if args.json is not None:
        try:
            write_report(args.json, report)
        except EdgeError as exc:
            print(f"error: benchmark: {exc.thing}: {exc.problem}", file=sys.stderr, flush=True)
            return EXIT_BAD_INPUT
        if not json_to_stdout:
            log.info("wrote %s", args.json)
    return 0


def write_report(path: Path, report: dict) -> None:
    """The whole report or the previous file (or none): a Ctrl-C or a full disk never leaves a truncated one."""
    with staged(path, "--json") as handle:
        handle.write(json.dumps(report, indent=1) + "\n")
