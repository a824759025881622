"""The edge runtime's published targets, checked against measured runs, with the stage or phase to blame."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from edge.bench.spec import PROCESSING

LATENCY, MEMORY, STARTUP = "processing_median_ms", "peak_rss_mb", "first_frame_s"
TARGET_SIZE = "640x480"
TARGET_FACES = 1
BUSY_RATIO = 1.5  # frame wall time above this multiple of its CPU time: the process waited for a core


@dataclass(frozen=True)
class Target:
    title: str
    detector: str
    metric: str
    limit: float
    unit: str


TARGETS = (
    Target("per-frame processing, median", "mediapipe", LATENCY, 5.0, "ms"),
    Target("per-frame processing, median", "haar", LATENCY, 15.0, "ms"),
    Target("peak resident memory", "haar", MEMORY, 120.0, "MB"),
    Target("peak resident memory", "mediapipe", MEMORY, 180.0, "MB"),
    Target("start-up to first frame", "haar", STARTUP, 1.5, "s"),
    Target("start-up to first frame", "mediapipe", STARTUP, 1.5, "s"),
)


@dataclass(frozen=True)
class TargetResult:
    title: str
    detector: str
    threads: int
    limit: float
    unit: str
    measured: float
    status: str  # PASS or MISS
    responsible: str  # largest stage (latency) or start-up phase (memory, start-up)

    def as_dict(self) -> dict:
        return asdict(self)


def measured_value(run: dict, metric: str) -> float:
    if metric == LATENCY:
        return run["processing"]["median"]
    if metric == MEMORY:
        return run["memory"]["peak_rss_mb"]
    return run["startup"]["first_frame_s"]


def responsible(run: dict, metric: str) -> str:
    """Where the time or memory goes: the biggest stage, or the biggest start-up phase."""
    if metric == LATENCY:
        total = run["processing"]["median"] or 1.0
        stage = max(PROCESSING, key=lambda s: run["stages"][s]["median"])
        ms = run["stages"][stage]["median"]
        blame = f"{stage} {ms:.1f} of {total:.1f} ms ({ms / total:.0%})"
        cpu, wall = run["cpu_ms_per_frame"], run["frame"]["median"]
        if cpu > 0 and wall > BUSY_RATIO * cpu:
            blame += f"; wall {wall:.1f} vs CPU {cpu:.1f} ms/frame: it waited for a core (machine busy)"
        return blame
    phases = run["startup"]["phases"]
    if metric == STARTUP:
        worst = max(phases, key=lambda p: p["seconds"])
        return f"{worst['name']} {worst['seconds']:.2f} of {run['startup']['first_frame_s']:.2f} s"
    growth = [(p["name"], p["rss_mb"] - (phases[i - 1]["rss_mb"] if i else 0.0)) for i, p in enumerate(phases)]
    growth.append(("measured frames", run["memory"]["peak_rss_mb"] - run["memory"]["peak_rss_first_frame_mb"]))
    name, mb = max(growth, key=lambda g: g[1])
    return f"{name} +{mb:.0f} MB"


def evaluate(runs: list[dict]) -> list[TargetResult]:
    """Every target against every matching run (640x480, one face; one result per thread count)."""
    results = []
    for target in TARGETS:
        for run in runs:
            spec = run["spec"]
            if spec["detector"] != target.detector or f"{spec['width']}x{spec['height']}" != TARGET_SIZE \
                    or spec["faces"] != TARGET_FACES:
                continue
            value = measured_value(run, target.metric)
            results.append(TargetResult(target.title, target.detector, spec["threads"], target.limit, target.unit,
                                        round(value, 3), "PASS" if value <= target.limit else "MISS",
                                        responsible(run, target.metric)))
    return results
