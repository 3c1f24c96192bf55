"""The benchmark's smoke mode: every server starts, every operation works, the report prints."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def test_the_benchmark_runs_in_smoke_mode() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.perf", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = run.stdout
    for operation in (
        "plain JSON route",
        "memory dashboard",
        "dashboard",
        "users page (100)",
        "quote",
        "purchase",
        "delete + switch",
    ):
        assert f"| {operation} |" in report
    # Repeated, the dashboard is answered from the response cache: the token lookup only.
    [statements] = re.findall(
        r"^\| project \| dashboard \| \d+ \| (\d+, then \d+) \|$", report, re.M
    )
    executed, repeated = statements.split(", then ")
    assert int(executed) > 3
    assert int(repeated) == 1
    assert "Dashboard memory:" in report
