"""Which system libraries do the installed wheels link that the (arm64) root does not have? Static: readelf only.

    python tests/arm64/needed_libs.py ROOT SITE_PACKAGES [--json FILE]

SITE_PACKAGES is a path inside ROOT (e.g. /opt/emotion-edge/venv/lib/python3.11/site-packages). A library counts
as present when a file of that name is in ROOT's library folders or anywhere in the venv (auditwheel bundles).
Missing libraries needed only by optional parts (OpenCV's Qt/X11 window plugin, LiteRT's vendor accelerator
plugins for Qualcomm/OpenVINO hardware) are listed as optional and do not fail.
Exit 0: nothing missing; 1: missing libraries (with the wheel files that need them); 2: bad input.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

LIB_DIRS = ("lib", "usr/lib", "lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib/x86_64-linux-gnu",
            "usr/lib/x86_64-linux-gnu", "usr/local/lib", "lib64")
# loaded only when an OpenCV window opens on X11, or when LiteRT is asked for that vendor's NPU
OPTIONAL = ("cv2/qt/plugins/", "libQt5XcbQpa", "ai_edge_litert/vendors/")


def needed(path: Path) -> list[str] | None:
    """DT_NEEDED entries of an ELF shared object, None if it is not one."""
    done = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True)
    if done.returncode != 0 or "Dynamic section" not in done.stdout:
        return None
    return [line.split("[", 1)[1].split("]", 1)[0] for line in done.stdout.splitlines() if "(NEEDED)" in line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("site_packages", help="path inside ROOT")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    site = args.root / args.site_packages.lstrip("/")
    if not site.is_dir():
        print(f"error: {site}: not a folder", file=sys.stderr)
        return 2
    present = {p.name for d in LIB_DIRS if (args.root / d).is_dir() for p in (args.root / d).iterdir()}
    objects = [p for p in site.rglob("*.so*") if p.is_file() and not p.is_symlink()]
    present |= {p.name for p in objects}
    missing: dict[str, set[str]] = defaultdict(set)
    for path in objects:
        for lib in needed(path) or []:
            if lib not in present:
                missing[lib].add(str(path.relative_to(site)))
    optional = {lib: users for lib, users in missing.items() if all(any(m in u for m in OPTIONAL) for u in users)}
    hard = {lib: users for lib, users in missing.items() if lib not in optional}
    report = {"shared_objects": len(objects), "missing": {k: sorted(v) for k, v in sorted(hard.items())},
              "missing_optional": sorted(optional)}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"{len(objects)} shared objects checked; missing: {', '.join(sorted(hard)) or 'none'}")
    print(f"  missing, needed by optional parts only (OpenCV X11 window, LiteRT vendor NPU plugins): "
          f"{', '.join(sorted(optional)) or 'none'}")
    for lib, users in sorted(hard.items()):
        print(f"  {lib}: needed by {', '.join(sorted(users)[:3])}")
    return 1 if hard else 0


if __name__ == "__main__":
    sys.exit(main())
