"""python -m convert --run runs/<name> --out models/<name>.tflite: the trained run as the full-integer model
the edge runs, with its sidecar contract (docs/CONTRACTS.md) next to it.

Exit codes: 0 written; 2 bad input (missing/corrupt file, unwritable path); 3 the model failed a quality
gate (a float op remained, or int8 lost more than --max-drop accuracy points).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: keep stderr for our errors

from edge.interrupts import interrupted  # noqa: E402 - standard library only

if TYPE_CHECKING:
    from convert.pipeline import ConvertOptions

# The command's own modules (numpy, OpenCV, the edge runtime: about 0.7 s) are imported by main(), not here, so
# that a Ctrl-C while they load is one line and exit 130 (edge.interrupts, convert.errors.run_cli) instead of
# a traceback.


def parse_args(argv: list[str] | None) -> ConvertOptions:
    from convert.pipeline import ConvertOptions
    from edge.cli_common import OneLineParser, non_negative_int, path_argument
    from train.data import DEFAULT_CACHE_DIR

    defaults = ConvertOptions(Path(), Path())
    parser = OneLineParser(prog="python -m convert", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=path_argument, required=True, help="run folder written by python -m train")
    parser.add_argument("--out", type=path_argument, required=True, help="output .tflite (sidecar .json goes next to it)")
    parser.add_argument("--data", type=path_argument, help="dataset for calibration and evaluation (default: run.json's data)")
    parser.add_argument("--split", type=str.lower, default=defaults.split,
                        help="evaluation split for the float/int8 comparison")
    parser.add_argument("--calib-split", default=defaults.calib_split, help="split the calibration faces come from")
    parser.add_argument("--calib-size", type=int, default=defaults.calib_size,
                        help="stratified calibration faces (real training images)")
    parser.add_argument("--max-drop", type=float, default=defaults.max_drop,
                        help="largest accepted int8 accuracy loss vs float, in percentage points "
                             "(a negative value demands a gain, i.e. forces the gate to fire)")
    parser.add_argument("--seed", type=non_negative_int, default=defaults.seed, help="seed of the calibration sample")
    parser.add_argument("--cache-dir", type=path_argument, default=DEFAULT_CACHE_DIR, help="decoded-array cache")
    parser.add_argument("--mirror-average", action="store_true",
                        help="average each face's logits with its mirror image's inside the model (two passes of the "
                             "net: twice the multiply-accumulates, no new weights)")
    parser.add_argument("--strict", action="store_true", help="fail on the first unreadable image or CSV row")
    args = parser.parse_args(argv)
    return ConvertOptions(args.run, args.out, args.data, args.split, args.calib_split, args.calib_size,
                          args.max_drop, args.seed, args.cache_dir, args.strict, args.mirror_average)


def convert_run(options: ConvertOptions) -> dict:
    """convert.pipeline.convert_run, imported when the conversion starts (tests.train.interrupting stops a run
    at this call)."""
    from convert.pipeline import convert_run as run

    return run(options)


def main(argv: list[str] | None = None) -> int:
    try:
        from convert.errors import run_cli
        from edge.cli_common import setup_logging
    except KeyboardInterrupt:  # before run_cli can handle it
        return interrupted()

    def body() -> int:
        from train.environment import require_tensorflow

        options = parse_args(argv)
        require_tensorflow()  # before any input is read or --out's folder made: one line in a venv without it
        metrics = convert_run(options)["metrics"]
        print(f"float_accuracy={metrics['float_accuracy']:.4f} int8_accuracy={metrics['int8_accuracy']:.4f} "
              f"float_macro_f1={metrics['float_macro_f1']:.4f} int8_macro_f1={metrics['int8_macro_f1']:.4f} "
              f"n={metrics['n']}")
        return 0

    setup_logging()
    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
