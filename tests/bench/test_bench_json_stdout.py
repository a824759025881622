"""`python -m edge.bench --json -` writes the JSON report to stdout and the tables to stderr, so the report can be
piped (`--json - | jq .runs`); before, the tables and the JSON were mixed on stdout (and `wrote -` logged)."""

from __future__ import annotations

import json

from tests.bench.test_bench import FORMAT, TINY, run_bench


def test_json_to_stdout_keeps_stdout_parseable(emotion_model):
    proc = run_bench(*TINY, "--detectors", "haar", "--model", str(emotion_model), "--json", "-")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["format"] == FORMAT and len(report["runs"]) == 1
    assert "haar" in proc.stderr and "wrote -" not in proc.stderr + proc.stdout
