"""The benchmark: the project's server against what this stack does at best, in one run.

    python -m bench.perf            # full run, about 8 minutes; prints the tables
    python -m bench.perf --smoke    # seconds: checks that everything works (the test suite)

Each server runs alone, one uvicorn worker pinned to CPU 0; wrk (Debian's package) runs pinned
to CPU 1. References: a plain Starlette JSON route, Strawberry answering `{ __typename }`, and
Strawberry answering the dashboard and users-page documents from memory (bench/
reference_apps.py). The project serves a generated company of 10,000 users from SQLite with
`RATE_LIMIT_ENABLED=false`, and sends its confirmation emails to a real SMTP server (aiosmtpd)
in this process. The machine is noisy: compare ratios within one run, and CPU time per request.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from bench import documents as doc
from bench.dataset import build
from bench.loadgen import Load, Run, cpu_seconds, has_wrk, memory_kib, run_python, run_wrk
from bench.service import SOAK_TODAY, Service, service_env
from bench.smtp import SmtpServer
from bench.sql_count import count_sql
from licensing.app import create_app
from licensing.settings import Clock, Settings
from resolvers.ids import encode_id


def _two_cpus() -> tuple[int | None, int | None]:
    """One CPU for the server, one for the load; no pinning on a single CPU."""
    available = sorted(os.sched_getaffinity(0))
    return (available[0], available[1]) if len(available) > 1 else (None, None)


SERVER_CPU, LOAD_CPU = _two_cpus()
JOBS = encode_id("Contract", 1)


@dataclass(frozen=True)
class Options:
    users: int
    seconds: float
    concurrency: tuple[int, ...]
    memory_requests: int
    use_wrk: bool
    workdir: Path


@dataclass(frozen=True)
class Operation:
    name: str
    bodies: list[str]
    reference: str  # the row it is compared with


@dataclass
class Row:
    server: str
    operation: str
    runs: dict[int, Run]
    peak_rss_kib: int = 0
    statements: str = ""


def project_operations(user_ids: list[int]) -> list[Operation]:
    switches = [
        doc.body(doc.ASSIGN, user=encode_id("User", user), kind=kind)
        for kind in ("DAILY", "MONTHLY")
        for user in user_ids
    ]
    deletes = [doc.body(doc.DELETE, contract=JOBS)] * len(switches)
    return [
        Operation("dashboard", [doc.body(doc.DASHBOARD)], "memory dashboard"),
        Operation("users page (100)", [doc.body(doc.USERS_PAGE)], "memory users page"),
        Operation("quote", [doc.body(doc.QUOTE, contract=JOBS)], "memory dashboard"),
        Operation("purchase", [doc.body(doc.PURCHASE, contract=JOBS)], "dashboard"),
        Operation(
            "delete + switch",
            [b for pair in zip(deletes, switches, strict=True) for b in pair],
            "dashboard",
        ),
    ]


REFERENCES = [
    ("plain", "plain JSON route", [""]),
    ("typename", "strawberry {__typename}", [doc.body("{ __typename }")]),
    ("memory", "memory dashboard", [doc.body(doc.DASHBOARD)]),
    ("memory", "memory users page", [doc.body(doc.USERS_PAGE)]),
]
JSON = {"Content-Type": "application/json"}


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


async def references(options: Options) -> list[Row]:
    rows = []
    for module, label, bodies in REFERENCES:
        arguments = ["bench.reference_apps", module, str(options.users)]
        with Service(dict(os.environ), module=arguments, cpu=SERVER_CPU) as service:
            await service.until_healthy(path="/graphql")
            load = Load(f"{service.base_url}/graphql", bodies, JSON)
            rows.append(await measure("reference", label, load, options, service.pid))
    return rows


def fresh_copy(pristine: Path, name: str) -> str:
    """A copy of the generated database: each run starts from the same state, with no email
    backlog or bought licenses from the run before it."""
    copy = pristine.with_name(f"{name}.db")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{pristine}{suffix}")
        if source.exists():
            shutil.copyfile(source, f"{copy}{suffix}")
    return f"sqlite://{copy}"


@contextmanager
def project_service(pristine: Path, name: str, smtp: SmtpServer) -> Iterator[Service]:
    env = service_env(fresh_copy(pristine, name), smtp.port, RATE_LIMIT_ENABLED="false")
    with Service(env, cpu=SERVER_CPU) as service:
        yield service


async def project(options: Options, pristine: Path, token: str) -> list[Row]:
    smtp = SmtpServer()
    smtp.start()
    rows = []
    try:
        for operation in project_operations(list(range(5, 105))):
            # A fresh server per operation: each row's peak memory is its own.
            with project_service(pristine, operation.name.split()[0], smtp) as service:
                await service.until_healthy()
                headers = {**JSON, "Authorization": f"Bearer {token}"}
                load = Load(f"{service.base_url}/graphql", operation.bodies, headers)
                rows.append(await measure("project", operation.name, load, options, service.pid))
    finally:
        smtp.stop()
    return rows


async def statements(pristine: Path, token: str) -> dict[str, str]:
    """SQL statements per request, counted in this process: first (executed), then repeated."""
    settings = Settings(
        database_url=fresh_copy(pristine, "statements"),
        rate_limit_enabled=False,
        clock=Clock(pinned_today=dt.date.fromisoformat(SOAK_TODAY)),
    )
    counts = {}
    headers = {**JSON, "Authorization": f"Bearer {token}"}
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for operation in project_operations([5, 6]):
                seen = []
                for _ in range(2):  # executed, then the same request again
                    with count_sql() as counter:
                        await http.post("/graphql", content=operation.bodies[0], headers=headers)
                    seen.append(str(counter.statements))
                counts[operation.name] = ", then ".join(seen)
    return counts


async def memory_growth(options: Options, pristine: Path, token: str) -> tuple[int, int, int]:
    """Resident memory after a warm-up and after `memory_requests` more dashboards (KiB)."""
    smtp = SmtpServer()
    smtp.start()
    try:
        with project_service(pristine, "memory", smtp) as service:
            await service.until_healthy()
            headers = {**JSON, "Authorization": f"Bearer {token}"}
            load = Load(f"{service.base_url}/graphql", [doc.body(doc.DASHBOARD)], headers)
            warm = await drive(load, 16, 3.0, options, service.pid)
            before = memory_kib(service.pid)[0]
            seconds = min(options.memory_requests / max(warm.per_second, 1.0), 600.0)
            run = await drive(load, 16, seconds, options, service.pid)
            return before, memory_kib(service.pid)[0], run.requests
    finally:
        smtp.stop()


def _ratio(row: Row, base: Row | None, concurrency: int) -> str:
    if base is None:
        return ""
    return f"{row.runs[concurrency].per_second / base.runs[concurrency].per_second:.2f}x"


def table(rows: list[Row], concurrency: int, compare: dict[str, str]) -> list[str]:
    by_name = {row.operation: row for row in rows}
    lines = [
        f"### {concurrency} connection{'s' if concurrency > 1 else ''}",
        "",
        "| server | operation | req/s | p50 ms | p99 ms | CPU ms/req | failed | vs plain | vs "
        "reference |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        run = row.runs[concurrency]
        reference = compare.get(row.operation)
        versus = f"{_ratio(row, by_name.get(reference or ''), concurrency)} {reference or ''}"
        lines.append(
            f"| {row.server} | {row.operation} | {run.per_second:,.0f} | {run.p50_ms:.1f} | "
            f"{run.p99_ms:.1f} | {run.cpu_ms_per_request:.2f} | {run.failed} | "
            f"{_ratio(row, by_name.get('plain JSON route'), concurrency)} | {versus.strip()} |"
        )
    return lines


def report(rows: list[Row], counts: dict[str, str], options: Options) -> str:
    compare = {op.name: op.reference for op in project_operations([1])}
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" {'wrk' if options.use_wrk else 'Python client'}; {options.users:,} users; "
        f"{options.seconds:g} s per run.",
        "",
    ]
    for concurrency in options.concurrency:
        lines += [*table(rows, concurrency, compare), ""]
    lines += [
        "| server | operation | peak RSS MiB | SQL statements per request |",
        "| --- | --- | ---: | --- |",
    ]
    lines += [
        f"| {row.server} | {row.operation} | {row.peak_rss_kib / 1024:.0f} | "
        f"{counts.get(row.operation, '')} |"
        for row in rows
    ]
    return "\n".join(lines)


def memory_line(memory: tuple[int, int, int]) -> str:
    before, after, requests = memory
    return (
        f"Dashboard memory: {before / 1024:.1f} MiB resident after warm-up, {after / 1024:.1f} MiB"
        f" after {requests:,} more requests ({(after - before) * 100 / before:+.1f}%)."
    )


def parse_options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds: does it all work")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--python-client", action="store_true", help="instead of wrk")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="licensing-bench-"))
    if args.smoke:
        return Options(200, 1.0, (16,), 300, has_wrk() and not args.python_client, workdir)
    if not has_wrk() and not args.python_client:
        parser.error("wrk is not installed (apt-get install wrk), or pass --python-client")
    return Options(
        users=args.users,
        seconds=args.seconds,
        concurrency=(1, 16, 64),
        memory_requests=args.memory_requests,
        use_wrk=not args.python_client,
        workdir=workdir,
    )


async def bench(options: Options) -> str:
    pristine = options.workdir / "generated.db"
    now = Clock(pinned_today=dt.date.fromisoformat(SOAK_TODAY)).now()
    token = await build(f"sqlite://{pristine}", options.users, now)
    counts = await statements(pristine, token)
    rows = await references(options) + await project(options, pristine, token)
    print(report(rows, counts, options), flush=True)
    return memory_line(await memory_growth(options, pristine, token))


def main(argv: list[str] | None = None) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv)
    if LOAD_CPU is not None:  # this process and its SMTP server stay off the server's CPU
        os.sched_setaffinity(0, {LOAD_CPU})
    print(asyncio.run(bench(options)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
