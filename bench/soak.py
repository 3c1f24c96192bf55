"""Soak test with injected faults, then a checker that proves nothing was lost.

Many clients drive a real `licensing serve` over loopback with the Licenses page's mix
(dashboard and users reads, quotes, purchases with idempotency keys, cancellations, resends,
deletions, assignments and switches, user deletions, renewal changes, the core product's
activity reports) while a signer signs the emailed links, a few pages stay subscribed to
live updates and a partner's two webhook endpoints (one answering 503 now and then) receive
every event.
Meanwhile the SMTP server (aiosmtpd, in this process) goes down and comes back and, with
several workers on PostgreSQL, one worker is killed with SIGKILL and must be replaced.
Afterwards the checker reads the database, the audit log, the received mail and webhooks.

    python -m bench.soak                                  # 60 s on a fresh SQLite file
    python -m bench.soak --duration 1800 --clients 32 \\
        --database-url postgres://USER@HOST:PORT/EMPTY_DB --workers 2

Exits 1 when an invariant does not hold. Give it an empty (or freshly migrated) database.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.dataset import SOAK_TODAY
from bench.service import Service, service_env
from bench.smtp import SmtpServer
from bench.soak_check import Report, Window, baseline, check, check_live
from bench.soak_live import Watcher, Watchers
from bench.soak_load import Budget, Client, Signer, World
from bench.soak_metrics import check_metrics, scrape_service
from bench.soak_webhooks import ENV as WEBHOOK_ENV
from bench.soak_webhooks import check_webhooks, flaky_receiver, register
from bench.soak_webhooks import settle as settle_webhooks
from licensing import db
from licensing.mailer import message_id
from licensing.settings import Clock
from models.company import Company
from models.contract import Contract
from models.enums import Role
from models.outbox import EmailStatus, OutboxEmail
from models.user import User
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token

DEMO_FIXTURE = Path(__file__).resolve().parent.parent / "licensing" / "demo_fixture.json"
OWNER = "olivia@acme-heating.example"
COMPANY_EMAIL = "accounts@acme-heating.example"
CLOCK = Clock(pinned_today=dt.date.fromisoformat(SOAK_TODAY))
OPEN_PAGES = 3
# After the load, how long the open pages have to be sent the company's final version.
LIVE_SETTLE_SECONDS = 10.0


@dataclass(frozen=True)
class Plan:
    database_url: str
    duration: float
    requests: int
    clients: int
    users: int
    workers: int
    smtp_down_at: float
    smtp_down_for: float
    kill_at: tuple[float, ...]
    settle_within: float
    seed: int
    log: Path


def soak_fixture(users: int) -> str:
    """The demo company with room to churn: more buyable licenses and many engineers."""
    fixture = json.loads(DEMO_FIXTURE.read_text())
    company = fixture["companies"][0]
    for contract in company["contracts"]:
        contract["pools"].update(MONTHLY=30, DAILY=30)
    # The Jobs contract is in its renewal window: renewal changes are requested, signed and
    # cancelled beside everything else (the Sales one refuses them, with its window's dates).
    soak_day = dt.date.fromisoformat(SOAK_TODAY)
    company["contracts"][0]["expiresOn"] = (soak_day + dt.timedelta(days=20)).isoformat()
    company["users"] += [
        {"name": f"Soak Engineer {n}", "email": f"soak{n}@acme-heating.example", "role": "ENGINEER"}
        for n in range(users)
    ]
    return json.dumps(fixture)


async def prepare(plan: Plan, service_url: str) -> World:
    await load_fixture_text(source="soak", text=soak_fixture(plan.users), now=CLOCK.now())
    owner = await User.get(email=OWNER)
    contracts = await Contract.filter(company_id=owner.company_id).values_list("id")
    # Owners stay: a client deleting the last one, or itself, is refused by design.
    users = (
        await User.filter(company_id=owner.company_id)
        .exclude(role=Role.OWNER_MANAGER)
        .values_list("id")
    )
    return World(
        contract_ids=[pk for (pk,) in contracts],
        user_ids=[pk for (pk,) in users],
        token=await create_token(email=OWNER, now=CLOCK.now()),
        activity_token=await create_token(
            email=OWNER, scopes=["activity:write"], name="Core product", now=CLOCK.now()
        ),
        base_url=service_url,
        public_base_url="http://licensing.test",
    )


async def smtp_outage(smtp: SmtpServer, plan: Plan, report: Report) -> None:
    await asyncio.sleep(plan.smtp_down_at)
    smtp.stop()
    await asyncio.sleep(plan.smtp_down_for)
    smtp.start()
    report.figures["SMTP outage (s)"] = plan.smtp_down_for


async def kill_workers(service: Service, plan: Plan, report: Report) -> list[Window]:
    started = time.monotonic()
    windows = []
    for moment in plan.kill_at:
        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
        windows.append(await kill_a_worker(service, plan))
    report.figures["workers killed (SIGKILL)"] = len(windows)
    if windows:
        slowest = max(window.end - 2.0 - window.start for window in windows)
        report.figures["slowest worker replacement (s)"] = round(slowest, 2)
    return windows


async def kill_a_worker(service: Service, plan: Plan) -> Window:
    victim = service.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    killed = time.monotonic()
    await _until(
        lambda: victim not in (pids := service.worker_pids()) and len(pids) == plan.workers
    )
    await service.until_healthy()
    replaced = time.monotonic()
    # A client may learn of a dead keep-alive connection a moment after the replacement.
    return Window(killed, replaced + 2.0)


async def _until(condition: Callable[[], bool]) -> None:
    """Poll a condition of the process table (nothing to await on: uvicorn restarts workers)."""
    while not condition():  # noqa: ASYNC110 - no event to wait on
        await asyncio.sleep(0.05)


async def run_load(
    plan: Plan, world: World, smtp: SmtpServer, service: Service, report: Report
) -> list[Window]:
    until = time.monotonic() + plan.duration
    budget = Budget(plan.requests)
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, or a
    # request could race the server's close and be cut for a reason other than a fault.
    limits = httpx.Limits(max_connections=plan.clients + 4, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        clients = [
            Client(world, http, random.Random(plan.seed * 1000 + n))  # noqa: S311 - a load mix
            for n in range(plan.clients + 1)
        ]
        signer = Signer(clients[-1], smtp.inbox)
        kill = asyncio.create_task(kill_workers(service, plan, report))
        await asyncio.gather(
            *(client.run(until, budget) for client in clients[:-1]),
            signer.run(until),
            smtp_outage(smtp, plan, report),
        )
        return await kill


async def settle(plan: Plan, world: World, smtp: SmtpServer) -> float:
    """Wait until every queued email went out (or arrived and awaits its sender's lease)."""
    started = time.monotonic()
    while time.monotonic() - started < plan.settle_within:
        queued = await OutboxEmail.filter(status=EmailStatus.QUEUED).values_list("id", "kind")
        arrived = {str(message["Message-ID"]) for message in smtp.inbox}
        base_url = world.public_base_url
        if all(message_id(row, base_url, kind) in arrived for row, kind in queued):
            break
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def soak(plan: Plan) -> Report:
    await db.apply_migrations(plan.database_url)
    smtp = SmtpServer()
    smtp.start()
    report = Report()
    env = service_env(
        plan.database_url,
        smtp.port,
        RATE_LIMIT_ENABLED="false",
        OUTBOX_POLL_SECONDS="0.1",
        OUTBOX_RETRY_BASE_SECONDS="0.5",
        OUTBOX_LEASE_SECONDS="5",
        **WEBHOOK_ENV,
    )
    receiver = flaky_receiver(plan.seed)
    try:
        async with receiver, db.orm(plan.database_url):
            with Service(env, workers=plan.workers, log=plan.log) as service:
                world = await prepare(plan, service.base_url)
                company = await Company.get(email=COMPANY_EMAIL)
                secrets = await register(company.id, receiver, CLOCK.now())
                before = await baseline()
                await service.until_healthy()
                pages = [Watcher(world.base_url, world.token) for _ in range(OPEN_PAGES)]
                watching = Watchers(pages)
                watching.start()
                started = time.monotonic()
                windows = await run_load(plan, world, smtp, service, report)
                report.figures["load (s)"] = round(time.monotonic() - started, 1)
                report.figures["settled after (s)"] = round(await settle(plan, world, smtp), 1)
                webhooks_settled = await settle_webhooks(plan.settle_within)
                report.figures["webhooks settled after (s)"] = round(webhooks_settled, 1)
                final = (await Company.get(email=COMPANY_EMAIL)).data_version
                heard = [await page.until_version(final, LIVE_SETTLE_SECONDS) for page in pages]
                await watching.close()
                samples = await scrape_service(service.base_url)
            await check(before, world, smtp.inbox, windows, report)
            check_live(pages, final, heard, report)
            await check_webhooks(before, receiver, secrets, len(windows), report)
            check_metrics(samples, world, plan.workers, report)
    finally:
        smtp.stop()
    return report


def print_report(report: Report) -> None:
    for name, passed, detail in report.checks:
        print(f"{'ok  ' if passed else 'FAIL'} {name}{f'  ({detail})' if detail else ''}")
    for name, value in report.figures.items():
        print(f"{name}: {value}")
    print("PASSED" if report.passed else "FAILED")


def _spread(count: int, duration: float) -> tuple[float, ...]:
    """`count` moments evenly spread over the run."""
    return tuple(duration * n / (count + 1) for n in range(1, count + 1))


def parse_plan(argv: list[str]) -> tuple[Plan, Path | None]:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--requests", type=int, default=1_000_000, help="at most this many")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--users", type=int, default=200, help="engineers in the company")
    parser.add_argument("--workers", type=int, default=1, help="above 1 needs PostgreSQL")
    parser.add_argument(
        "--kills", type=int, default=1, help="workers to SIGKILL, evenly spread (needs --workers)"
    )
    parser.add_argument("--settle-within", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="licensing-soak-"))
    plan = Plan(
        database_url=args.database_url or f"sqlite://{workdir / 'soak.db'}",
        duration=args.duration,
        requests=args.requests,
        clients=args.clients,
        users=args.users,
        workers=args.workers,
        smtp_down_at=args.duration * 0.2,
        smtp_down_for=args.duration * 0.25,
        kill_at=_spread(args.kills if args.workers > 1 else 0, args.duration),
        settle_within=args.settle_within,
        seed=args.seed,
        log=workdir / "service.log",
    )
    return plan, args.json


def main(argv: list[str] | None = None) -> int:
    plan, json_path = parse_plan(sys.argv[1:] if argv is None else argv)
    print(
        f"soak: {plan.duration:.0f} s, {plan.clients} clients, {plan.workers} worker(s), "
        f"service log {plan.log}",
        flush=True,
    )
    report = asyncio.run(soak(plan))
    print_report(report)
    if json_path:
        payload = {"passed": report.passed, "checks": report.checks, "figures": report.figures}
        json_path.write_text(json.dumps(payload, indent=2))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
