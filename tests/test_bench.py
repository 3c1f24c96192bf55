"""The benchmark's smoke mode: every server starts, every operation works, the report prints."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def _smoke_run(module: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", module, "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_the_benchmark_runs_in_smoke_mode() -> None:
    report = _smoke_run("bench.perf")
    for operation in (
        "plain JSON route",
        "memory dashboard",
        "dashboard, Tortoise plainest (4 SELECTs)",
        "dashboard (cache hit)",
        "dashboard (cache off)",
        "users page (100, cache off)",
        "quote (cache hit)",
        "purchase",
        "delete + switch",
    ):
        assert f"| {operation} |" in report
    # Repeated, the dashboard is answered from the response cache: the token lookup only.
    # Without the cache it is executed each time: the token, and the company snapshot.
    assert _statements(report, "dashboard (cache hit)") == (3, 1)  # and the next lapse, once
    assert _statements(report, "dashboard (cache off)") == (2, 2)
    assert "Dashboard memory, response cache on:" in report
    assert "| dashboard (cache hit) | plain JSON route | 0.3x |" in report


def _statements(report: str, operation: str) -> tuple[int, int]:
    [found] = re.findall(
        rf"^\| project \| {re.escape(operation)} \| \d+ \| (\d+), then (\d+) \|$", report, re.M
    )
    return int(found[0]), int(found[1])


def test_the_intake_benchmark_runs_in_smoke_mode() -> None:
    report = _smoke_run("bench.intake")
    # A report adding days: the token, the standing of its events, the company lock, the
    # insert. Repeated, it adds nothing: the token and the standing, no write at all.
    assert "SQL statements per call: 4 adding days, 2 adding nothing." in report
    rows = re.findall(r"^\| (1|16) \| ([\d,]+) \| .* \| (\d+) \| ([\d.]+)x \|$", report, re.M)
    assert [row[0] for row in rows] == ["1", "16"]
    assert all(int(row[1].replace(",", "")) > 0 and row[2] == "0" for row in rows), rows
    for label in ("alone", "in calls of 1,000", "in calls of 100", "flat out"):
        assert re.search(
            rf"^\| [^|]*{label}[^|]* \| [\d,]+ \| [\d.]+ \| [\d.]+ \| [\d.]+x \| 0 \|$",
            report,
            re.M,
        ), label


def test_the_live_updates_benchmark_runs_in_smoke_mode() -> None:
    report = _smoke_run("bench.live_latency")
    assert "3 open pages, 5 changes, 1 worker(s)" in report
    assert re.search(r"^\| answer to event, each page \(15 events\) \| [\d.]+ ms \|", report, re.M)


def test_the_webhook_benchmark_runs_in_smoke_mode() -> None:
    report = _smoke_run("bench.webhook_throughput")
    assert "20 events to 4 endpoints" in report
    for row in (
        "1 sender(s): deliveries/s",
        "2 sender(s): deliveries/s",
        "reference, bare httpx, a new connection each: posts/s",
        "reference, bare httpx, kept-alive connections: posts/s",
    ):
        assert re.search(rf"^{re.escape(row)}: [\d,]+$", report, re.M), row


def test_the_metrics_cost_benchmark_runs_in_smoke_mode() -> None:
    report = _smoke_run("bench.metrics_cost")
    assert "| one process |" in report
    assert "| --workers N |" in report
