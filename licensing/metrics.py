"""Prometheus metrics of every process of one service start, served at `/metrics`.

`licensing serve` gives each start a directory of its own (PROMETHEUS_MULTIPROC_DIR, wiped at
start) before anything imports prometheus_client: every worker of `--workers N` writes its
counters there, and a scrape of any worker adds them all up. A worker that stops, or is found
dead by the next one to start, is marked dead: its live gauges (pool use, process figures)
drop out, its counters stay in the totals.

Without the directory (the tests' in-process app) the metrics live in this process only.

What the database knows (the email and webhook backlogs) is read at scrape time by the
worker that answers, once for all workers.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from licensing.metrics_directory import multiprocess_directory
from resolvers.context import OperationReport
from services.monitoring import Backlogs

CONTENT_TYPE = CONTENT_TYPE_LATEST
OTHER_OPERATION = "other"
ANONYMOUS_OPERATION = "anonymous"
# Up to a minute: past that a request has been refused by the statement timeout anyway.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Instruments:
    """The metrics this process writes (one set per process: prometheus_client's registry is
    global)."""

    def __init__(self) -> None:
        self.graphql_requests = Counter(
            "licensing_graphql_requests",
            "GraphQL operations by type, name (allow-listed, else `other`) and outcome "
            "(ok, error, refused); answers from the response cache included.",
            ["operation_type", "operation_name", "outcome"],
        )
        self.graphql_duration = Histogram(
            "licensing_graphql_request_duration_seconds",
            "Time to answer a GraphQL operation, by type and name.",
            ["operation_type", "operation_name"],
            buckets=DURATION_BUCKETS,
        )
        self.graphql_errors = Counter(
            "licensing_graphql_errors",
            "GraphQL errors by extensions.code.",
            ["code"],
        )
        self.response_cache = Counter(
            "licensing_response_cache_lookups",
            "Queries answered from the response cache (hit) and by running them (miss).",
            ["result"],
        )
        self.rate_limit_refusals = Counter(
            "licensing_rate_limit_refusals",
            "Operations refused by the per-token rate limit (THROTTLED).",
        )
        self.db_pool_connections = Gauge(
            "licensing_db_pool_connections",
            "Database connections of the live workers, by state (in_use, idle).",
            ["state"],
            multiprocess_mode="livesum",
        )
        self.db_pool_max = Gauge(
            "licensing_db_pool_max_connections",
            "Most database connections the live workers may open together.",
            multiprocess_mode="livesum",
        )
        self.workers = Gauge(
            "licensing_worker_processes",
            "Worker processes serving requests.",
            multiprocess_mode="livesum",
        )
        self.process = {
            name: Gauge(
                f"licensing_{name}",
                description,
                multiprocess_mode="liveall",  # one series per worker, by pid
            )
            for name, description in PROCESS_FIGURES.items()
        }
        self.build = Gauge(
            "licensing_build_info",
            "Always 1; the labels say which version runs on which Python.",
            ["version", "python"],
            multiprocess_mode="max",
        )
        self.build.labels(_version(), platform.python_version()).set(1)


# prometheus_client's process figures, kept per worker (its own collector does not add up
# across processes).
PROCESS_FIGURES = {
    "process_resident_memory_bytes": "Resident memory of a worker, in bytes.",
    "process_cpu_seconds": "CPU time a worker has used, in seconds.",
    "process_open_fds": "Open file descriptors of a worker.",
    "process_start_time_seconds": "When a worker started, in seconds since the epoch.",
}


def _version() -> str:
    try:
        return metadata.version("licensing-backend")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def instruments() -> Instruments:
    return Instruments()


class OperationNames:
    """The operation names metrics may carry: a fixed allow-list and the names of the
    persisted queries an operator registered. Any other name is `other`: names are chosen by
    clients, and each distinct one would be a time series of its own."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.fixed = frozenset(allowed)
        self.known = self.fixed

    def include(self, names: Iterable[str]) -> None:
        self.known = self.fixed | frozenset(names)

    def label(self, name: str | None) -> str:
        if not name:
            return ANONYMOUS_OPERATION
        return name if name in self.known else OTHER_OPERATION


def operation_names(document: str) -> list[str]:
    """The names of a document's operations (none when it does not parse)."""
    try:
        parsed = parse(document, no_location=True)
    except GraphQLError:
        return []
    return [
        definition.name.value
        for definition in parsed.definitions
        if isinstance(definition, OperationDefinitionNode) and definition.name
    ]


class Recorder:
    """Where the GraphQL layer reports each operation: one call per operation.

    The labelled children are kept here: prometheus-client's `labels()` takes a lock and
    checks its arguments on every call, which was a third of the cost of recording.
    """

    def __init__(self, names: OperationNames) -> None:
        self.names = names
        self.instruments = instruments()
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._errors: dict[str, Any] = {}
        self._lookups = {
            hit: self.instruments.response_cache.labels("hit" if hit else "miss")
            for hit in (True, False)
        }

    def operation_done(self, report: OperationReport) -> None:
        name = self.names.label(report.operation_name)
        kind = report.operation_type
        metrics = self.instruments
        key = (kind, name, report.outcome)
        counter = self._requests.get(key) or self._requests.setdefault(
            key, metrics.graphql_requests.labels(*key)
        )
        counter.inc()
        histogram = self._durations.get((kind, name)) or self._durations.setdefault(
            (kind, name), metrics.graphql_duration.labels(kind, name)
        )
        histogram.observe(report.seconds)
        for code in report.error_codes:
            errors = self._errors.get(code) or self._errors.setdefault(
                code, metrics.graphql_errors.labels(code)
            )
            errors.inc()
            if code == "THROTTLED":
                metrics.rate_limit_refusals.inc()

    def cache_lookup(self, hit: bool) -> None:
        self._lookups[hit].inc()


def record_pool(in_use: int, idle: int, maximum: int) -> None:
    metrics = instruments()
    metrics.db_pool_connections.labels("in_use").set(in_use)
    metrics.db_pool_connections.labels("idle").set(idle)
    metrics.db_pool_max.set(maximum)


def record_process() -> None:
    """Copy prometheus_client's reading of /proc for this process into its per-worker gauges."""
    gauges = instruments().process
    for family in ProcessCollector(registry=None).collect():
        for sample in family.samples:
            key = sample.name.removeprefix("process_").removesuffix("_total")
            gauge = gauges.get(f"process_{key}")
            if gauge is not None:
                gauge.set(sample.value)


def worker_started() -> None:
    """Count this worker in, and mark dead the workers of this start that are gone."""
    directory = multiprocess_directory()
    if directory is not None:
        for pid in _recorded_pids(directory) - {os.getpid()}:
            if not _alive(pid):
                multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
    instruments().workers.set(1)
    record_process()


def worker_stopped() -> None:
    directory = multiprocess_directory()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), str(directory))  # type: ignore[no-untyped-call]


def _recorded_pids(directory: Path) -> set[int]:
    """The pids of the live-gauge files (`gauge_livesum_1234.db`)."""
    pids = set()
    for path in directory.glob("gauge_live*_*.db"):
        with contextlib.suppress(ValueError):
            pids.add(int(path.stem.rsplit("_", 1)[1]))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Backlogs:
    """The database's backlogs as read for this scrape."""

    def __init__(self, backlogs: Backlogs | None) -> None:
        self.backlogs = backlogs

    def collect(self) -> Iterator[Metric]:
        found = self.backlogs
        yield _gauge(
            "licensing_backlogs_read",
            "1 when this scrape read the backlogs from the database, 0 when it could not "
            "(within a second): the backlog metrics are left out then.",
            0 if found is None else 1,
        )
        if found is None:
            return
        yield _gauge(
            "licensing_email_backlog",
            "Emails waiting to be sent (queued, retries included).",
            found.emails_waiting,
        )
        yield _gauge(
            "licensing_email_backlog_oldest_age_seconds",
            "Age of the oldest email waiting to be sent (0 when none waits).",
            found.oldest_email_age_seconds,
        )
        yield _gauge(
            "licensing_emails_failed",
            "Emails given up after every attempt failed (kept 30 days).",
            found.emails_failed,
        )
        yield _gauge(
            "licensing_webhook_backlog",
            "Webhook deliveries to enabled endpoints waiting to be sent, retries included.",
            found.deliveries_waiting,
        )
        yield _gauge(
            "licensing_webhook_backlog_due",
            "Waiting webhook deliveries whose time has come (the senders' lag).",
            found.deliveries_due,
        )
        yield _gauge(
            "licensing_webhook_backlog_oldest_age_seconds",
            "Age of the oldest waiting webhook delivery to an enabled endpoint (0 when none).",
            found.oldest_delivery_age_seconds,
        )
        yield _gauge(
            "licensing_webhook_endpoints_disabled",
            "Webhook endpoints disabled (by their owner, a 410 or 5 days of failures).",
            found.endpoints_disabled,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def exposition(backlogs: Backlogs | None) -> bytes:
    """The text of a scrape: every worker's metrics, and the backlogs (None: not readable)."""
    record_process()
    directory = multiprocess_directory()
    if directory is None:
        registry = REGISTRY
        text = generate_latest(registry)
    else:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, str(directory))  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(_Backlogs(backlogs))
    return text + generate_latest(extra)
