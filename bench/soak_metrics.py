"""The soak's view of /metrics: what the service counted against what its clients saw."""

from __future__ import annotations

import httpx

from bench.scrape import Samples, scrape, total, value
from bench.soak_check import Report
from bench.soak_load import World

REQUESTS = "licensing_graphql_requests_total"


async def scrape_service(base_url: str) -> Samples:
    """The soak runs on loopback: no METRICS_TOKEN needed."""
    async with httpx.AsyncClient(timeout=30) as http:
        return await scrape(http, f"{base_url}/metrics")


def check_metrics(samples: Samples, world: World, workers: int, report: Report) -> None:
    """Every answered GraphQL request counted once, by whichever worker answered it; a request
    cut by a kill may have been counted (the worker died after its answer) or not."""
    sent = [outcome for outcome in world.outcomes if outcome.graphql]
    answered = sum(1 for outcome in sent if outcome.result not in ("cut", "5xx"))
    cut = len(sent) - answered
    counted = total(samples, REQUESTS, operation_type="query") + total(
        samples, REQUESTS, operation_type="mutation"
    )
    report.check(
        "metrics: every answered GraphQL request counted once across the workers",
        answered <= counted <= answered + cut,
        f"counted {counted:.0f}, answered {answered}, cut {cut}",
    )
    errors = total(samples, REQUESTS, outcome="error")
    report.check(
        "metrics: GraphQL errors counted as the clients saw them",
        errors >= sum(1 for outcome in sent if outcome.result == "error"),
        f"{errors:.0f} counted",
    )
    report.check(
        "metrics: the live workers are counted and the webhook backlog is empty once settled",
        value(samples, "licensing_worker_processes") == workers
        and value(samples, "licensing_webhook_backlog") == 0,
        f"workers {value(samples, 'licensing_worker_processes'):.0f}, "
        f"webhook backlog {value(samples, 'licensing_webhook_backlog'):.0f}",
    )
    hits = value(samples, "licensing_response_cache_lookups_total", result="hit")
    report.figures["metrics: GraphQL requests counted"] = int(counted)
    report.figures["metrics: response cache hits"] = int(hits)
