"""SQL statements per request, counted in this process: the first time, then repeated."""

from __future__ import annotations

import datetime as dt

import httpx
from asgi_lifespan import LifespanManager

from bench.dataset import SOAK_TODAY
from bench.perf_rows import JSON, project_operations
from bench.sql_count import count_sql
from licensing.app import create_app
from licensing.settings import Clock, Settings


async def statements(database_url: str, token: str, smtp_port: int) -> dict[str, str]:
    """For each operation of the benchmark, "N, then M": executed, then the same again."""
    counts = {}
    for operation in project_operations():
        cache_off = operation.environment.get("RESPONSE_CACHE_BYTES") == "0"
        settings = Settings(
            database_url=database_url,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            rate_limit_enabled=False,
            response_cache_bytes=0 if cache_off else Settings.response_cache_bytes,
            clock=Clock(pinned_today=dt.date.fromisoformat(SOAK_TODAY)),
        )
        headers = {**JSON, "Authorization": f"Bearer {token}"}
        async with LifespanManager(create_app(settings)) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                # The token's first use records it: not part of any operation's count.
                await http.post("/graphql", json={"query": "{ viewer { id } }"}, headers=headers)
                seen = []
                for _ in range(2):
                    with count_sql() as counter:
                        await http.post("/graphql", content=operation.bodies[0], headers=headers)
                    seen.append(str(counter.statements))
        counts[operation.name] = ", then ".join(seen)
    return counts
