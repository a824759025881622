"""Plain-text tables of a benchmark report (the JSON written by --json holds the same numbers and more)."""

from __future__ import annotations

from edge.bench.spec import FRAME_BUDGET_MS, STAGES

REPORT_PACKAGES = ("ai-edge-litert", "tflite-runtime", "opencv-contrib-python", "opencv-python",
                   "opencv-python-headless", "mediapipe", "numpy")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) if i >= 4 else str(c).ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _config_cells(run: dict) -> list[str]:
    spec = run["spec"]
    return [spec["detector"], str(spec["threads"]), f"{spec['width']}x{spec['height']}", str(spec["faces"])]


def machine_lines(report: dict) -> list[str]:
    m = report["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if k in REPORT_PACKAGES)
    board = f"{m['board']}, " if m.get("board") else ""
    load = (f"load average {m['load_average_1m_at_start']} at start"
            + (", training job running (figures slower and noisier than on an idle machine)" if m["training_running"] else ""))
    model = report["model"]
    return [f"machine: {board}{m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['memory_mb']} MB, {m['os']}",
            f"python {m['python']}; {packages}",
            f"{load}",
            f"model: {model['path']} ({model['bytes'] / 1e6:.2f} MB, sha256 {model['sha256'][:12]}, from {model['source_run']})"
            + ("; each face classified with its mirror image too (classifier.mirror_average)"
               if model.get("mirror_average") else "")]


def stage_table(runs: list[dict]) -> list[str]:
    header = ["detector", "thr", "size", "faces", *STAGES, "processing", "frame"]
    rows = [[*_config_cells(r),
             *(f"{r['stages'][s]['median']:.2f}/{r['stages'][s]['p90']:.2f}" for s in STAGES),
             f"{r['processing']['median']:.2f}/{r['processing']['p90']:.2f}",
             f"{r['frame']['median']:.2f}/{r['frame']['p90']:.2f}"] for r in runs]
    return ["ms per frame, median/p90 (processing = detect+preprocess+classify+track; frame = all stages):",
            *_table(header, rows)]


def summary_table(runs: list[dict]) -> list[str]:
    header = ["detector", "thr", "size", "faces", "fps", "cpu ms/frame", f"{FRAME_BUDGET_MS:.0f} ms budget",
              "peak RSS MB", "first frame s", "faces/frame"]
    rows = [[*_config_cells(r), f"{r['fps']['median']:.1f}", f"{r['cpu_ms_per_frame']:.2f}",
             f"{r['budget_share']:.0%}", f"{r['memory']['peak_rss_mb']:.0f}", f"{r['startup']['first_frame_s']:.2f}",
             f"{r['faces_per_frame']:.2f}"] for r in runs]
    return ["end to end (fps = frames / wall time; budget = median frame time / one 30 fps frame):", *_table(header, rows)]


def classifier_lines(classifier: dict | None) -> list[str]:
    if not classifier:
        return []
    one, three = classifier["one_face"], classifier["three_faces_per_face"]
    return [f"classifier alone ({classifier['threads']} thread, ms per face, median/p90): "
            f"one face {one['total']['median']:.2f}/{one['total']['p90']:.2f} "
            f"(preprocess {one['preprocess']['median']:.2f}, invoke {one['invoke']['median']:.2f}); "
            f"three faces in one invoke {three['total']['median']:.2f}/{three['total']['p90']:.2f} per face"]


def target_lines(targets: list[dict]) -> list[str]:
    if not targets:
        return ["targets: no 640x480 one-face run in this selection"]
    lines = ["targets (640x480, one face):"]
    for t in targets:
        blame = f"  <- {t['responsible']}" if t["status"] == "MISS" else ""
        lines.append(f"  {t['status']}  {t['detector']:<9} threads={t['threads']}  {t['title']:<30} "
                     f"{t['measured']:>8.2f} {t['unit']:<2} (target <= {t['limit']:g} {t['unit']}){blame}")
    return lines


def render(report: dict) -> str:
    runs = report["runs"]
    parts = [machine_lines(report), stage_table(runs), summary_table(runs), classifier_lines(report["classifier"]),
             target_lines(report["targets"])]
    if report.get("skipped"):
        parts.append([f"skipped: {s}" for s in report["skipped"]])
    return "\n\n".join("\n".join(p) for p in parts if p)
