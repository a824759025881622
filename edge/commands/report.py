"""`python -m edge report --db <store> --since 24h [--by hour|track] [--png P] [--csv P] [--json P]`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from edge.cli_common import path_argument, silence_stdout
from edge.errors import EdgeError

if TYPE_CHECKING:
    from edge.report import EventRange

log = logging.getLogger(__name__)

HELP = "Summarise the event store: emotion counts and shares per interval or track, a PNG timeline, exports."
DEFAULT_SINCE = "24h"
DEFAULT_DB = Path("/var/lib/emotion-edge/events.db")  # the service's store (docs/SERVICE.md)
DEFAULT_BY = "hour"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edge.report import BY_CHOICES

    parser.add_argument("--db", type=path_argument, default=DEFAULT_DB, help=f"the SQLite event store (default {DEFAULT_DB})")
    parser.add_argument("--since", default=DEFAULT_SINCE,
                        help="24h, 30m, 7d, 2w, an ISO date/time (local), or 'all' (default 24h)")
    parser.add_argument("--until", default=None, help="end of the range, same forms as --since (default: no end)")
    parser.add_argument("--by", choices=BY_CHOICES, default=DEFAULT_BY,
                        help=f"one table row per interval or per track (default: {DEFAULT_BY})")
    parser.add_argument("--png", type=path_argument, help="write a timeline plot of emotion shares here")
    parser.add_argument("--csv", type=path_argument, help="export the raw events as CSV ('-': to stdout, the table to stderr)")
    parser.add_argument("--json", type=path_argument, help="export the raw events as JSON ('-': to stdout, the table to "
                                                  "stderr)")


def run(args: argparse.Namespace) -> int:
    from edge.report import EventRange, check_outputs, parse_since, snapshot
    from edge.report_chart import check_png_path
    from edge.staged import check_writable
    from edge.store import open_readonly

    now = time.time()
    since = parse_since(args.since, now)
    until = parse_since(args.until, now, "--until") if args.until else None
    if since is not None and until is not None and until <= since:
        if args.since == DEFAULT_SINCE:
            raise EdgeError(f"--until {args.until}", f"is before --since (default: {DEFAULT_SINCE} ago); add "
                                                     "--since all or an earlier --since")
        raise EdgeError(f"--until {args.until}", f"must be later than --since {args.since}")
    if args.png:
        check_png_path(args.png)  # before reading the store
    outputs = {"--png": args.png, "--csv": args.csv, "--json": args.json}
    check_outputs(args.db, outputs)
    for flag, path in outputs.items():
        if path is not None:
            check_writable(path, flag)  # each before the first is written
    check_default_store(args.db)
    conn = open_readonly(args.db)
    try:
        snapshot(conn)  # the table, the plot and the exports all see the same events
        write_report(EventRange(conn, since, until, args.db), args)
    finally:
        conn.close()
    return 0


def local_store_hint() -> str:
    """Where a run with the store on keeps it (edge.store.StoreSink.from_config): its output folder, without
    --store.path or systemd's $STATE_DIRECTORY."""
    from edge.config import OutputConfig
    from edge.store.sink import DEFAULT_NAME

    out = OutputConfig.model_fields["dir"].default
    return (f"give --db PATH; a run with --store.enabled true keeps its store in its --out folder ({out}/ of the "
            f"folder it ran in by default): --db {out / DEFAULT_NAME}, unless --store.path named another file")


def check_default_store(db: Path) -> None:
    """The default store (the service's) missing, as after local runs only: the one line says where theirs is.
    Any other problem with it (no access without sudo, a folder) is open_readonly's to report."""
    if db != DEFAULT_DB:
        return
    try:
        db.stat()
    except FileNotFoundError:
        raise EdgeError(f"store {db}", f"no such file ({local_store_hint()})") from None
    except OSError:
        pass


def write_report(events: EventRange, args: argparse.Namespace) -> None:
    """Each file asked for, then the table on stdout (so a reader that stops early, `| head`, loses no file);
    every part streams the range from the store again. An export to `-` takes stdout, and the table goes to
    stderr."""
    from edge.report import auto_interval, by_interval, export_csv, export_json, format_table, summarize
    from edge.report_chart import plot_timeline
    from edge.staged import is_stdout

    def shown(path: Path) -> str:  # absolute, as photo and the run say where their results went
        return "stdout" if is_stdout(path) else str(path.absolute())

    count, first, last = events.stats()
    where = f"{args.db} since {args.since}" + (f" until {args.until}" if args.until else "")
    labels = events.labels()
    written = []
    if args.png:
        interval = args.by if args.by != "track" else auto_interval(last - first if count else 0.0)
        plot = plot_timeline(by_interval(events.marks(), interval), labels, interval, args.png)
        written.append(f"plot: {shown(plot)}")
    if args.csv:
        written.append(f"csv: {shown(export_csv(events.events(), labels, args.csv))}")
    if args.json:
        written.append(f"json: {shown(export_json(events.events(), args.json))}")
    out = sys.stderr if is_stdout(args.csv) or is_stdout(args.json) else sys.stdout
    lines = [f"no events in {where}"] if not count else [
        f"{count} events in {where}", format_table(summarize(events.marks(), args.by), labels, args.by)]
    lines += written
    try:
        for line in lines:
            print(line, file=out)
        out.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:  # a full disk under `> report.txt`: one line, not a traceback
        silence_stdout()
        raise EdgeError("stdout" if out is sys.stdout else "stderr", f"cannot write ({exc.strerror or exc})") from None
