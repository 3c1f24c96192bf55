"""The benchmark: the project's server against what this stack does at best, in one run.

    python -m bench.perf                      # full run on SQLite, about 15 minutes
    python -m bench.perf --database-url postgres://USER@HOST:PORT/postgres   # PostgreSQL rows too
    python -m bench.perf --smoke              # seconds: checks that everything works (the suite)

Each server runs alone, one uvicorn worker pinned to CPU 0; wrk (Debian's package) runs pinned
to CPU 1. References (bench/reference_apps.py): a plain Starlette JSON route, Strawberry
answering `{ __typename }`, Strawberry answering the dashboard and users-page documents from
memory, and the dashboard read through Tortoise the plainest way. The project serves a
generated company of 10,000 users with `RATE_LIMIT_ENABLED=false`, each read with the
response cache on (a hit) and off (`RESPONSE_CACHE_BYTES=0`), and sends its confirmation
emails to a real SMTP server (aiosmtpd) in this process. The machine is noisy: compare ratios
within one run, and CPU time per request.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import platform
import sys
import tempfile
from pathlib import Path

import httpx

from bench import documents as doc
from bench import perf_rows
from bench.dataset import SOAK_TODAY, build, build_in_subprocess
from bench.loadgen import Load, Run, cpu_seconds, has_wrk, memory_kib, run_python, run_wrk
from bench.perf_rows import (
    JSON,
    Operation,
    Options,
    Row,
    Target,
    project_operations,
)
from bench.perf_statements import statements
from bench.postgres import fresh_postgres_database
from bench.service import Service, service_env
from bench.smtp import SmtpServer
from licensing.settings import Clock


def _two_cpus() -> tuple[int | None, int | None]:
    """One CPU for the server, one for the load; no pinning on a single CPU."""
    available = sorted(os.sched_getaffinity(0))
    return (available[0], available[1]) if len(available) > 1 else (None, None)


SERVER_CPU, LOAD_CPU = _two_cpus()


async def drive(load: Load, connections: int, seconds: float, options: Options, pid: int) -> Run:
    before = cpu_seconds(pid)
    if options.use_wrk:
        run = await asyncio.to_thread(run_wrk, load, connections, seconds, LOAD_CPU)
    else:
        run = await run_python(load, connections, seconds)
    spent = cpu_seconds(pid) - before
    return dataclasses.replace(run, cpu_ms_per_request=spent * 1000 / max(run.requests, 1))


async def check_answers(load: Load) -> None:
    """Every operation must work before it is timed: a fast error is no result."""
    async with httpx.AsyncClient(timeout=30) as http:
        for body in load.bodies[:4]:
            response = await http.post(load.url, content=body, headers=load.headers)
            text = response.text
            if response.status_code != 200 or '"errors"' in text or '"code"' in text:
                raise RuntimeError(f"{load.url} answered {response.status_code}: {text[:300]}")


async def measure(server: str, name: str, load: Load, options: Options, pid: int) -> Row:
    await check_answers(load)
    if len(options.concurrency) > 1:  # not in smoke mode
        await drive(load, max(options.concurrency), 1.0, options, pid)  # warm-up
    runs = {c: await drive(load, c, options.seconds, options, pid) for c in options.concurrency}
    return Row(server, name, runs, peak_rss_kib=memory_kib(pid)[1])


async def references(options: Options, database_url: str, suffix: str = "") -> list[Row]:
    rows = []
    for module, label, bodies in perf_rows.references(suffix):
        arguments = ["bench.reference_apps", module, str(options.users)]
        env = {**os.environ, "DATABASE_URL": database_url}
        with Service(env, module=arguments, cpu=SERVER_CPU) as service:
            await service.until_healthy(path="/graphql")
            load = Load(f"{service.base_url}/graphql", bodies, JSON)
            rows.append(await measure("reference", label, load, options, service.pid))
    return rows


async def project(
    options: Options,
    database_url: str,
    token: str,
    operations: list[Operation],
    smtp: SmtpServer,
) -> list[Row]:
    rows = []
    for operation in operations:
        # A fresh server per row: each row's peak memory is its own.
        env = service_env(
            options.fresh(database_url, operation.slug), smtp.port, **operation.environment
        )
        with Service(env, cpu=SERVER_CPU) as service:
            await service.until_healthy()
            headers = {**JSON, "Authorization": f"Bearer {token}"}
            load = Load(f"{service.base_url}/graphql", operation.bodies, headers)
            rows.append(await measure("project", operation.name, load, options, service.pid))
    return rows


async def memory_growth(
    options: Options, database_url: str, token: str, smtp: SmtpServer, cache: bool
) -> tuple[int, int, int]:
    """Resident memory after a warm-up and after `memory_requests` more dashboards (KiB)."""
    extra = {"RATE_LIMIT_ENABLED": "false"} | ({} if cache else {"RESPONSE_CACHE_BYTES": "0"})
    env = service_env(options.fresh(database_url, f"memory-{cache}"), smtp.port, **extra)
    with Service(env, cpu=SERVER_CPU) as service:
        await service.until_healthy()
        headers = {**JSON, "Authorization": f"Bearer {token}"}
        load = Load(f"{service.base_url}/graphql", [doc.body(doc.DASHBOARD)], headers)
        warm = await drive(load, 16, 5.0, options, service.pid)
        before = memory_kib(service.pid)[0]
        seconds = min(options.memory_requests / max(warm.per_second, 1.0), 900.0)
        run = await drive(load, 16, seconds, options, service.pid)
        return before, memory_kib(service.pid)[0], run.requests


def parse_options(argv: list[str]) -> tuple[Options, str | None]:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds: does it all work")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--python-client", action="store_true", help="instead of wrk")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (a database on it to connect to): adds the PostgreSQL rows",
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="licensing-bench-"))
    if args.smoke:
        smoke = Options(200, 1.0, (16,), 300, has_wrk() and not args.python_client, workdir)
        return smoke, args.database_url
    if not has_wrk() and not args.python_client:
        parser.error("wrk is not installed (apt-get install wrk), or pass --python-client")
    options = Options(
        users=args.users,
        seconds=args.seconds,
        concurrency=(1, 16, 64),
        memory_requests=args.memory_requests,
        use_wrk=not args.python_client,
        workdir=workdir,
    )
    return options, args.database_url


async def _postgres_rows(options: Options, server_url: str, smtp: SmtpServer) -> list[Row]:
    """The naive reference and the uncached dashboard, both reading PostgreSQL."""
    async with fresh_postgres_database(server_url) as database_url:
        token = await asyncio.to_thread(build_in_subprocess, database_url, options.users)
        naive = await references(options, database_url, suffix=" (PostgreSQL)")
        naive = [row for row in naive if "Tortoise" in row.operation]
        operations = [op for op in project_operations(postgres=True) if "PostgreSQL" in op.name]
        return naive + await project(options, database_url, token, operations, smtp)


async def bench(options: Options, postgres: str | None) -> str:
    pristine = f"sqlite://{options.workdir / 'generated.db'}"
    now = Clock(pinned_today=dt.date.fromisoformat(SOAK_TODAY)).now()
    token = await build(pristine, options.users, now)
    smtp = SmtpServer()
    smtp.start()
    try:
        counts = await statements(options.fresh(pristine, "statements"), token, smtp.port)
        rows = await references(options, options.fresh(pristine, "reference"))
        rows += await project(options, pristine, token, project_operations(), smtp)
        if postgres:
            rows += await _postgres_rows(options, postgres, smtp)
        print(perf_rows.report(rows, counts, options), flush=True)
        memory = [
            await memory_growth(options, pristine, token, smtp, cache) for cache in (True, False)
        ]
    finally:
        smtp.stop()
    return "\n".join(
        [perf_rows.memory_lines(memory), "", perf_rows.targets_table(rows, memory, TARGETS)]
    )


TARGETS = [
    Target("dashboard (cache off)", "dashboard, Tortoise plainest (4 SELECTs)", 1.0),
    Target("dashboard (cache off)", "memory dashboard", 0.5),
    Target("users page (100, cache off)", "memory users page", 0.8),
    Target("dashboard (cache hit)", "memory dashboard", 1.5),
    Target("dashboard (cache hit)", "plain JSON route", 0.3),
    Target("purchase", "dashboard (cache off)", 0.3),
    Target(
        "dashboard (cache off, PostgreSQL)",
        "dashboard, Tortoise plainest (4 SELECTs) (PostgreSQL)",
        1.0,
    ),
    Target("dashboard (cache off, PostgreSQL)", "memory dashboard", 0.5),
]


def main(argv: list[str] | None = None) -> int:
    options, postgres = parse_options(sys.argv[1:] if argv is None else argv)
    if LOAD_CPU is not None:  # this process and its SMTP server stay off the server's CPU
        os.sched_setaffinity(0, {LOAD_CPU})
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {'wrk' if options.use_wrk else 'Python client'}; "
        f"{options.users:,} users; {options.seconds:g} s per run; server on CPU {SERVER_CPU}, "
        f"load on CPU {LOAD_CPU}.\n",
        flush=True,
    )
    print(asyncio.run(bench(options, postgres)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
