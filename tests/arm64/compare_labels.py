"""Compare two `python -m edge` output folders (x86 host vs arm64 root) frame by frame and track by track.

    python tests/arm64/compare_labels.py HOST_OUT ARM_OUT [--json summary.json] [--prob-tol 0.02]

Each folder comes from a run with `--interval 0 --save-crops`: events.jsonl then holds one line per face per
frame, and crops/ one file `<run start>_track<id>_<frame>_<label>.jpg` per line. The crops give the frame index (the events
carry only a wall-clock ts); the k-th crop of a track pairs with the k-th event of that track.

Passes (exit 0) when both runs saw the same (frame, track) pairs with the same label each. The largest
probability and box differences are reported, and exceeding --prob-tol / --box-tol also fails.
Exit 1 on a difference, 2 on unreadable input. Standard library only (runs anywhere).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

CROP_NAME = re.compile(r"^(?:\d{8}T\d{6}Z_)?track(\d+)_(\d+)_(.+)\.jpg$")  # run start stamp, then the track


class InputError(Exception):
    pass


@dataclass(frozen=True)
class Face:
    frame: int
    track: int
    label: str
    probs: dict[str, float]
    box: tuple[int, ...]


def read_run(folder: Path) -> dict[tuple[int, int], Face]:
    """{(frame, track): Face} from <folder>/events.jsonl and <folder>/crops/."""
    events_path, crops_dir = folder / "events.jsonl", folder / "crops"
    if not events_path.is_file():
        raise InputError(f"{events_path}: missing (run with --out {folder})")
    if not crops_dir.is_dir():
        raise InputError(f"{crops_dir}: missing (run with --save-crops --interval 0)")
    crops: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for path in crops_dir.iterdir():
        match = CROP_NAME.match(path.name)
        if match:
            crops[int(match[1])].append((int(match[2]), match[3]))
    events: dict[int, list[dict]] = defaultdict(list)
    for number, line in enumerate(events_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            events[int(event["track_id"])].append(event)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{events_path}:{number}: not an event line ({exc})") from None
    if set(crops) != set(events) or any(len(crops[t]) != len(events[t]) for t in events):
        counts = {t: (len(crops.get(t, [])), len(events.get(t, []))) for t in sorted(set(crops) | set(events))}
        raise InputError(f"{folder}: crops and events disagree per track (crops, events): {counts}; "
                         "was it run with --interval 0 --save-crops into an empty folder?")
    faces: dict[tuple[int, int], Face] = {}
    for track, track_events in events.items():
        for (frame, crop_label), event in zip(sorted(crops[track]), track_events):
            if crop_label != event["label"]:
                raise InputError(f"{folder}: track {track} frame {frame}: crop says {crop_label}, "
                                 f"event says {event['label']}")
            faces[(frame, track)] = Face(frame, track, event["label"],
                                         {k: float(v) for k, v in event["probs"].items()}, tuple(event["box"]))
    return faces


def compare(host: dict[tuple[int, int], Face], arm: dict[tuple[int, int], Face], prob_tol: float = 0.02,
            box_tol: int = 4) -> dict:
    common = sorted(set(host) & set(arm))
    only_host, only_arm = sorted(set(host) - set(arm)), sorted(set(arm) - set(host))
    label_diffs = [{"frame": f, "track": t, "host": host[(f, t)].label, "arm64": arm[(f, t)].label}
                   for f, t in common if host[(f, t)].label != arm[(f, t)].label]
    class_sets_differ = any(set(host[key].probs) != set(arm[key].probs) for key in common)
    prob_diff = max((abs(p - arm[key].probs.get(k, 0.0)) for key in common for k, p in host[key].probs.items()),
                    default=0.0)
    box_diff = max((abs(a - b) for key in common for a, b in zip(host[key].box, arm[key].box)), default=0)
    frames = {f for f, _ in host} | {f for f, _ in arm}
    summary = {
        "frames_with_faces": len(frames),
        "faces_host": len(host), "faces_arm64": len(arm), "faces_compared": len(common),
        "tracks_host": len({t for _, t in host}), "tracks_arm64": len({t for _, t in arm}),
        "labels_equal": len(common) - len(label_diffs),
        "label_differences": label_diffs[:20],
        "only_host": [list(k) for k in only_host[:20]], "only_arm64": [list(k) for k in only_arm[:20]],
        "max_prob_diff": round(prob_diff, 6),
        "max_box_diff_px": box_diff,
        "host_label_sequence": [host[k].label for k in sorted(host)],
    }
    problems = []
    if not host:
        problems.append("host run logged no faces")
    if only_host or only_arm:
        problems.append(f"(frame, track) pairs differ: {len(only_host)} only on host, {len(only_arm)} only on arm64")
    if label_diffs:
        problems.append(f"{len(label_diffs)} of {len(common)} labels differ")
    if class_sets_differ:
        problems.append("the two runs report different class names (different models?)")
    if prob_diff > prob_tol:
        problems.append(f"probabilities differ by up to {summary['max_prob_diff']} (> {prob_tol})")
    if box_diff > box_tol:
        problems.append(f"boxes differ by up to {box_diff} px (> {box_tol})")
    summary["problems"] = problems
    summary["ok"] = not problems
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", type=Path, help="output folder of the x86 host run")
    parser.add_argument("arm", type=Path, help="output folder of the arm64 run")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--prob-tol", type=float, default=0.02, help="largest allowed probability difference")
    parser.add_argument("--box-tol", type=int, default=4, help="largest allowed box coordinate difference (px)")
    parser.add_argument("--name", default="", help="label for the printed line (e.g. the detector)")
    args = parser.parse_args(argv)
    try:
        summary = compare(read_run(args.host), read_run(args.arm), args.prob_tol, args.box_tol)
    except (InputError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    name = f"{args.name}: " if args.name else ""
    print(f"{name}{'same' if summary['ok'] else 'DIFFERENT'}: {summary['labels_equal']}/{summary['faces_compared']} "
          f"labels equal over {summary['frames_with_faces']} frames, {summary['tracks_host']} tracks "
          f"(host {summary['faces_host']} faces, arm64 {summary['faces_arm64']}); "
          f"max prob diff {summary['max_prob_diff']}, max box diff {summary['max_box_diff_px']} px")
    for problem in summary["problems"]:
        print(f"  {problem}")
    for diff in summary["label_differences"][:5]:
        print(f"  frame {diff['frame']} track {diff['track']}: host {diff['host']}, arm64 {diff['arm64']}")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
