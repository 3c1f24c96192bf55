"""Live updates' benchmark: how long after a change its subscribers hear of it.

    python -m bench.live_latency                    # SQLite, 40 open pages, 200 changes
    python -m bench.live_latency --database-url postgres://USER@HOST:PORT/EMPTY_DB --workers 2
    python -m bench.live_latency --smoke            # seconds: checks that everything works

`licensing serve` runs the demo company with PAGES subscribers (8 tokens of its owner, 5
sockets each: the per-token cap), each selecting what the Licenses page shows of its pools.
A client makes CHANGES assignments one after another over HTTP (each moves the company's
version by one) and, for each, waits until every page has the new version. Printed: the
mutation's own round trip (the reference: what a client doing the change waits anyway),
and from the moment its answer arrived to the moment each page's event did, p50, p99 and the
largest, over all pages and changes. With several workers the pages are spread over them by
the kernel, and the change is made through any: events cross processes through PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from bench.dataset import SOAK_TODAY
from bench.live import CHANGES, LiveClient
from bench.service import Service, service_env
from bench.smtp import free_port
from licensing import db
from licensing.settings import Clock
from resolvers.ids import encode_id
from services.fixtures import load_fixture_text
from services.protection.tokens import create_token

DEMO_FIXTURE = Path(__file__).resolve().parent.parent / "licensing" / "demo_fixture.json"
OWNER = "olivia@acme-heating.example"
ERIN = encode_id("User", 4)  # the demo's engineer, moved between MONTHLY and DAILY
ASSIGN = """mutation($u: ID!, $k: LicenseKind!) { assignLicense(input: {userId: $u,
  product: JOBS, kind: $k}) { userErrors { code } } }"""
SOCKETS_PER_TOKEN = 5


async def _tokens(database_url: str, count: int) -> list[str]:
    now = Clock(pinned_today=dt.date.fromisoformat(SOAK_TODAY)).now()
    await db.apply_migrations(database_url)
    async with db.orm(database_url):
        await load_fixture_text(source="demo", text=DEMO_FIXTURE.read_text(), now=now)
        return [await create_token(email=OWNER, name=f"page {n}", now=now) for n in range(count)]


async def _page(client: LiveClient, heard: dict[int, float], version: asyncio.Condition) -> None:
    while True:
        change = await client.change(within=3600)
        async with version:
            heard[int(change["version"])] = time.perf_counter()
            version.notify_all()


async def measure(base_url: str, tokens: list[str], pages: int, changes: int) -> dict[str, float]:
    async with AsyncExitStack() as stack, httpx.AsyncClient(timeout=30) as http:
        clients = []
        for n in range(pages):
            token = tokens[n // SOCKETS_PER_TOKEN]
            client = await stack.enter_async_context(LiveClient.connected(base_url, token))
            await client.subscribe(CHANGES)
            clients.append(client)
        firsts = [int((await client.change())["version"]) for client in clients]
        heard: list[dict[int, float]] = [{} for _ in clients]
        arrived = asyncio.Condition()
        readers = [
            asyncio.create_task(_page(client, log, arrived))
            for client, log in zip(clients, heard, strict=True)
        ]
        round_trips, delays = [], []
        version = max(firsts)
        for n in range(changes):
            started = time.perf_counter()
            answer = await http.post(
                f"{base_url}/graphql",
                json={"query": ASSIGN, "variables": {"u": ERIN, "k": ("DAILY", "MONTHLY")[n % 2]}},
                headers={"Authorization": f"Bearer {tokens[0]}"},
            )
            answered = time.perf_counter()
            assert answer.json()["data"]["assignLicense"]["userErrors"] == [], answer.text
            round_trips.append(answered - started)
            version += 1
            await _all_heard(arrived, heard, version)
            # A page may have been sent a later version only (coalesced): counted at that one.
            delays += [
                min(at for seen, at in log.items() if seen >= version) - answered for log in heard
            ]
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return {
        "round trip p50": statistics.median(round_trips),
        "round trip p99": _p99(round_trips),
        "event p50": statistics.median(delays),
        "event p99": _p99(delays),
        "event max": max(delays),
        "events": len(delays),
    }


async def _all_heard(
    arrived: asyncio.Condition, heard: list[dict[int, float]], version: int
) -> None:
    async with arrived:
        await asyncio.wait_for(
            arrived.wait_for(lambda: all(max(log, default=0) >= version for log in heard)),
            timeout=30,
        )


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def run(database_url: str | None, workers: int, pages: int, changes: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite://{folder}/live.db"
        tokens = await _tokens(url, -(-pages // SOCKETS_PER_TOKEN))
        env = service_env(
            url, free_port(), RATE_LIMIT_ENABLED="false", LIVE_CONNECTIONS_PER_COMPANY="1000"
        )
        with Service(env, workers=workers) as service:
            await service.until_healthy()
            figures = await measure(service.base_url, tokens, pages, changes)
    database = url.split(":", 1)[0]
    print(f"Machine: {platform.machine()}, Python {platform.python_version()}; {database}")
    print(f"{pages} open pages, {changes} changes, {workers} worker(s)")
    print("| measure | p50 | p99 | max |")
    print("| --- | --- | --- | --- |")
    print(
        f"| assignLicense round trip (reference) | {_ms(figures['round trip p50'])} "
        f"| {_ms(figures['round trip p99'])} | |"
    )
    print(
        f"| answer to event, each page ({figures['events']:.0f} events) "
        f"| {_ms(figures['event p50'])} | {_ms(figures['event p99'])} "
        f"| {_ms(figures['event max'])} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    pages, changes = (3, 5) if args.smoke else (args.pages, args.changes)
    asyncio.run(run(args.database_url, args.workers, pages, changes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
