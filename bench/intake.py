"""The activity intake's benchmark: 1,000-event reports against a company of 10,000 users.

    python -m bench.intake            # full run on SQLite, about 3 minutes
    python -m bench.intake --smoke    # seconds: checks that everything works (the suite)

Each call reports 1,000 events: about 40% for users holding a DAILY license on days not yet
billable, 30% repeats (of this call's or earlier calls' days) and 30% for users holding
another kind. One uvicorn worker pinned to CPU 0 with `RATE_LIMIT_ENABLED=false`, wrk on CPU 1,
a fresh copy of the generated database per run. Printed: events per second, p50/p99 per call
and server CPU per call at 1 and 16 connections; SQL statements per call; the reference (the
same rows written with one `executemany` of INSERT OR IGNORE through aiosqlite, in this
process, on a copy of the same database); and the Licenses page's p99 alone and while the
intake runs.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiosqlite
import httpx
from asgi_lifespan import LifespanManager

from bench import documents as doc
from bench.dataset import OWNER, SOAK_TODAY, build
from bench.loadgen import Load, Run, cpu_seconds, has_wrk, run_python, run_wrk
from bench.perf import LOAD_CPU, SERVER_CPU
from bench.perf_rows import JSON, Options
from bench.service import Service, service_env
from bench.smtp import SmtpServer
from bench.sql_count import count_sql
from licensing import db
from licensing.app import create_app
from licensing.settings import Clock, Settings
from resolvers.ids import encode_id
from services.billing.activity import reportable_days
from services.protection.tokens import create_token

EVENTS_PER_CALL = 1_000
# The steady reporting rate the page is read under: a quarter of what one worker takes; and
# how often the page is opened meanwhile.
PACED_EVENTS = 5_000
PAGES_PER_SECOND = 100
RECORD = """mutation Record($input: RecordLicenseActivityInput!) {
  recordLicenseActivity(input: $input) { accepted newBillableDays userErrors { code } } }"""
# The Licenses page as finance staff see it now: pools, daily usage and the next invoice.
PAGE = """query Page { subscription { contracts { id product expiresOn
  licensePools { id kind total assigned available pending }
  licensePool(kind: DAILY) { dailyUsage { billableDays amount { formatted } } }
  nextInvoice { issuedOn total { formatted } } } } }"""
TODAY = dt.date.fromisoformat(SOAK_TODAY)


@dataclasses.dataclass(frozen=True)
class Calls:
    """The calls' bodies, and the billable rows (user, pool, day) each one adds at most."""

    bodies: list[str]
    rows: list[list[tuple[int, int, str]]]


def _holders(database: Path) -> tuple[dict[int, int], list[int]]:
    """(DAILY holders of JOBS -> their pool, users holding another kind or none)."""
    with sqlite3.connect(database) as connection:
        found = connection.execute(
            "SELECT u.id, p.kind, p.id FROM app_user u LEFT JOIN license_assignment a "
            "ON a.user_id = u.id AND a.product = 'JOBS' LEFT JOIN license_pool p "
            "ON p.id = a.pool_id"
        ).fetchall()
    daily = {user: pool for user, kind, pool in found if kind == "DAILY"}
    return daily, [user for user, kind, _ in found if kind != "DAILY"]


def generate_calls(database: Path, count: int, size: int = EVENTS_PER_CALL, seed: int = 7) -> Calls:
    picker = random.Random(seed)  # noqa: S311 - a repeatable workload, not a secret
    daily, others = _holders(database)
    daily_users = sorted(daily)
    span = reportable_days(TODAY)
    days = [
        (span.first + dt.timedelta(days=n)).isoformat()
        for n in range((span.last - span.first).days + 1)
    ]
    earlier: list[tuple[int, str]] = []
    bodies, rows = [], []
    kinds = ("LOGIN", "APPOINTMENT_BOOKED", "APPOINTMENT_ACTIONED")
    for _ in range(count):
        events: list[tuple[int, str]] = []
        for n in range(size):
            share = n % 10
            if share < 4 or not earlier:
                pair = (picker.choice(daily_users), picker.choice(days))
            elif share < 7:
                pair = picker.choice(earlier)
            else:
                pair = (picker.choice(others), picker.choice(days))
            events.append(pair)
        earlier.extend(events[: size * 4 // 10])
        payload = [
            {
                "userId": encode_id("User", user),
                "product": "JOBS",
                "kind": picker.choice(kinds),
                "on": day,
            }
            for user, day in events
        ]
        bodies.append(json.dumps({"query": RECORD, "variables": {"input": {"events": payload}}}))
        billable = {(user, daily[user], day) for user, day in events if user in daily}
        rows.append(sorted(billable))
    return Calls(bodies, rows)


async def reference(database: Path, calls: Calls) -> float:
    """Events per second written the plainest way: one executemany of INSERT OR IGNORE per
    call, through aiosqlite, in this process."""
    statement = (
        "INSERT OR IGNORE INTO billable_day (company_id, pool_id, user_id, user_name, day, "
        "recorded_at) VALUES (1, ?, ?, 'User', ?, ?)"
    )
    now = dt.datetime.now(dt.UTC).isoformat(" ")
    async with aiosqlite.connect(database) as connection:
        started = time.perf_counter()
        for rows in calls.rows:
            await connection.executemany(
                statement, [(pool, user, day, now) for user, pool, day in rows]
            )
            await connection.commit()
        seconds = time.perf_counter() - started
    return sum(len(json.loads(body)["variables"]["input"]["events"]) for body in calls.bodies) / (
        seconds
    )


async def statements_per_call(database_url: str, token: str, calls: Calls) -> tuple[int, int]:
    """SQL statements of a call adding days, then of the same call again (adding nothing)."""
    settings = Settings(
        database_url=database_url,
        rate_limit_enabled=False,
        clock=Clock(pinned_today=TODAY),
    )
    headers = {**JSON, "Authorization": f"Bearer {token}"}
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            await http.post("/graphql", content=calls.bodies[0], headers=headers)  # first use
            seen = []
            for body in (calls.bodies[1], calls.bodies[1]):
                with count_sql() as counter:
                    response = await http.post("/graphql", content=body, headers=headers)
                assert '"userErrors":[]' in response.text, response.text[:300]
                seen.append(counter.statements)
    return seen[0], seen[1]


async def _drive(load: Load, connections: int, seconds: float, options: Options) -> Run:
    if options.use_wrk:
        return await asyncio.to_thread(run_wrk, load, connections, seconds, LOAD_CPU)
    return await run_python(load, connections, seconds)


async def _check(load: Load) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(load.url, content=load.bodies[0], headers=load.headers)
        if response.status_code != 200 or '"code"' in response.text:
            raise RuntimeError(f"{load.url} answered {response.status_code}: {response.text[:300]}")


@dataclasses.dataclass(frozen=True)
class IntakeRun:
    connections: int
    run: Run
    cpu_ms_per_call: float

    @property
    def events_per_second(self) -> float:
        return self.run.per_second * EVENTS_PER_CALL


async def intake_runs(
    options: Options, pristine: str, tokens: dict[str, str], calls: Calls, smtp: SmtpServer
) -> list[IntakeRun]:
    results = []
    for connections in options.concurrency:
        env = service_env(
            options.fresh(pristine, f"intake-{connections}"), smtp.port, RATE_LIMIT_ENABLED="false"
        )
        with Service(env, cpu=SERVER_CPU) as service:
            await service.until_healthy()
            headers = {**JSON, "Authorization": f"Bearer {tokens['activity']}"}
            load = Load(f"{service.base_url}/graphql", calls.bodies[1:], headers)
            await _check(load)
            before = cpu_seconds(service.pid)
            run = await _drive(load, connections, options.seconds, options)
            spent = cpu_seconds(service.pid) - before
        results.append(IntakeRun(connections, run, spent * 1000 / max(run.requests, 1)))
    return results


async def paced(load: Load, per_second: float, seconds: float) -> Run:
    """Send the bodies at a steady rate (open loop: a call starts every 1/rate seconds whether
    or not the ones before are done), as people opening a page or a core product reporting
    all day do; a server that keeps up answers each in its own time."""
    latencies: list[float] = []
    failed = 0

    async def call(http: httpx.AsyncClient, body: str) -> None:
        nonlocal failed
        started = time.perf_counter()
        response = await http.post(load.url, content=body, headers=load.headers)
        latencies.append((time.perf_counter() - started) * 1000)
        failed += response.status_code != 200 or '"code"' in response.text

    loop = asyncio.get_running_loop()
    started = loop.time()
    calls = []
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        for turn in range(int(per_second * seconds)):
            await asyncio.sleep(max(0.0, started + turn / per_second - loop.time()))
            calls.append(asyncio.create_task(call(http, load.bodies[turn % len(load.bodies)])))
        await asyncio.gather(*calls)
    return Run.of(latencies, loop.time() - started, failed)


@dataclasses.dataclass(frozen=True)
class PageRun:
    label: str
    run: Run
    reports: Run | None = None
    call_size: int = 0


async def page_under_intake(
    options: Options, pristine: str, tokens: dict[str, str], calls: dict[int, Calls]
) -> list[PageRun]:
    """The Licenses page opened PAGES_PER_SECOND times a second, alone, then while activity is
    reported: PACED_EVENTS events/s in calls of 1,000 and of 100 events, then flat out."""
    smtp = SmtpServer()
    smtp.start()
    env = service_env(options.fresh(pristine, "mixed"), smtp.port, RATE_LIMIT_ENABLED="false")
    reporter = {**JSON, "Authorization": f"Bearer {tokens['activity']}"}
    seconds = options.seconds
    try:
        with Service(env, cpu=SERVER_CPU) as service:
            await service.until_healthy()
            url = f"{service.base_url}/graphql"
            owner = {**JSON, "Authorization": f"Bearer {tokens['owner']}"}
            page = Load(url, [doc.body(PAGE)], owner)
            await _check(page)
            await paced(page, PAGES_PER_SECOND, 1.0)  # warm-up
            runs = [PageRun("alone", await paced(page, PAGES_PER_SECOND, seconds))]
            for size, batch in calls.items():
                intake = Load(url, batch.bodies[1:], reporter)
                run, reports = await asyncio.gather(
                    paced(page, PAGES_PER_SECOND, seconds),
                    paced(intake, PACED_EVENTS / size, seconds),
                )
                label = f"{PACED_EVENTS:,} events/s in calls of {size:,}"
                runs.append(PageRun(label, run, reports, size))
            flat_out = Load(url, calls[EVENTS_PER_CALL].bodies[1:], reporter)
            together, reports = await asyncio.gather(
                paced(page, PAGES_PER_SECOND, seconds), _drive(flat_out, 1, seconds, options)
            )
            label = "calls of 1,000 flat out on one connection"
            runs.append(PageRun(label, together, reports, EVENTS_PER_CALL))
    finally:
        smtp.stop()
    return runs


async def _tokens(database_url: str) -> dict[str, str]:
    now = Clock(pinned_today=TODAY).now()
    async with db.orm(database_url):
        activity = await create_token(
            email=OWNER, scopes=["activity:write"], name="Core product", now=now
        )
        owner = await create_token(email=OWNER, now=now)
    return {"owner": owner, "activity": activity}


def report(
    runs: list[IntakeRun], reference_eps: float, counts: tuple[int, int], page: list[PageRun]
) -> str:
    lines = [
        f"SQL statements per call: {counts[0]} adding days, {counts[1]} adding nothing.",
        f"Reference (executemany of INSERT OR IGNORE via aiosqlite): {reference_eps:,.0f} "
        "events/s.",
        "",
        "| connections | events/s | calls/s | p50 ms/call | p99 ms/call | server CPU ms/call "
        "| failed | x reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for found in runs:
        run = found.run
        lines.append(
            f"| {found.connections} | {found.events_per_second:,.0f} | {run.per_second:.1f} | "
            f"{run.p50_ms:.1f} | {run.p99_ms:.1f} | {found.cpu_ms_per_call:.1f} | {run.failed} | "
            f"{found.events_per_second / reference_eps:.3f}x |"
        )
    alone = page[0].run
    lines += [
        "",
        f"Licenses page (pools, daily usage, next invoice; response cache on) opened "
        f"{PAGES_PER_SECOND} times a second:",
        "",
        "| while reporting | events/s reported | page p50 ms | page p99 ms | p99 x alone "
        "| failed |",
        "|---|---|---|---|---|---|",
    ]
    for row in page:
        run, reports = row.run, row.reports
        reported = reports.per_second * row.call_size if reports else 0.0
        failed = run.failed + (reports.failed if reports else 0)
        lines.append(
            f"| {row.label} | {reported:,.0f} | {run.p50_ms:.1f} | {run.p99_ms:.1f} | "
            f"{run.p99_ms / max(alone.p99_ms, 0.001):.2f}x | {failed} |"
        )
    return "\n".join(lines)


async def bench(options: Options, calls_count: int) -> str:
    pristine_path = options.workdir / "generated.db"
    pristine = f"sqlite://{pristine_path}"
    await build(pristine, options.users, Clock(pinned_today=TODAY).now())
    tokens = await _tokens(pristine)
    calls = generate_calls(pristine_path, calls_count)
    small = generate_calls(pristine_path, calls_count * 2, size=100)
    copy = Path(options.fresh(pristine, "reference").removeprefix("sqlite://"))
    reference_eps = await reference(copy, calls)
    counts = await statements_per_call(options.fresh(pristine, "count"), tokens["activity"], calls)
    smtp = SmtpServer()
    smtp.start()
    try:
        runs = await intake_runs(options, pristine, tokens, calls, smtp)
    finally:
        smtp.stop()
    page = await page_under_intake(options, pristine, tokens, {1_000: calls, 100: small})
    return report(runs, reference_eps, counts, page)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds: does it all work")
    parser.add_argument("--seconds", type=float, default=10.0, help="per run")
    parser.add_argument("--calls", type=int, default=300, help="distinct 1,000-event bodies")
    parser.add_argument("--python-client", action="store_true", help="instead of wrk")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    use_wrk = has_wrk() and not args.python_client
    workdir = Path(tempfile.mkdtemp(prefix="licensing-intake-"))
    if args.smoke:
        options = Options(500, 1.0, (1, 16), 0, use_wrk, workdir)
        calls = 12
    else:
        if not use_wrk and not args.python_client:
            parser.error("wrk is not installed (apt-get install wrk), or pass --python-client")
        options = Options(10_000, args.seconds, (1, 16), 0, use_wrk, workdir)
        calls = args.calls
    if LOAD_CPU is not None:
        os.sched_setaffinity(0, {LOAD_CPU})
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {'wrk' if use_wrk else 'Python client'}; "
        f"{options.users:,} users; {calls} calls of {EVENTS_PER_CALL:,} events; "
        f"{options.seconds:g} s per run.\n",
        flush=True,
    )
    print(asyncio.run(bench(options, calls)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
