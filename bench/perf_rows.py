"""What the benchmark runs (rows), how it compares them (targets), and the tables it prints."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bench import documents as doc
from bench.loadgen import Run
from resolvers.ids import encode_id

JOBS = encode_id("Contract", 1)
JSON = {"Content-Type": "application/json"}
NAIVE = "dashboard, Tortoise plainest (4 SELECTs)"
# The concurrency the targets are read at (what the issue measured at).
TARGET_CONCURRENCY = 16
CACHE_OFF = {"RATE_LIMIT_ENABLED": "false", "RESPONSE_CACHE_BYTES": "0"}
CACHE_ON = {"RATE_LIMIT_ENABLED": "false"}


@dataclass(frozen=True)
class Options:
    users: int
    seconds: float
    concurrency: tuple[int, ...]
    memory_requests: int
    use_wrk: bool
    workdir: Path

    def fresh(self, database_url: str, name: str) -> str:
        """A copy of a generated SQLite database, so each row starts from the same state (no
        email backlog or bought licenses from the row before); a PostgreSQL one as it is."""
        if not database_url.startswith("sqlite://"):
            return database_url
        pristine = Path(database_url.removeprefix("sqlite://"))
        copy = self.workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{pristine}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{copy}{suffix}")
        return f"sqlite://{copy}"


@dataclass(frozen=True)
class Operation:
    name: str
    bodies: list[str]
    environment: dict[str, str]

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "-" for c in self.name)


@dataclass
class Row:
    server: str
    operation: str
    runs: dict[int, Run]
    peak_rss_kib: int = 0


@dataclass(frozen=True)
class Target:
    row: str
    reference: str
    at_least: float


def references(suffix: str = "") -> list[tuple[str, str, list[str]]]:
    """(reference_apps module, label, bodies) of every reference server."""
    if suffix:  # only the one that reads the database is run again on PostgreSQL
        return [("tortoise", NAIVE + suffix, [doc.body(doc.DASHBOARD)])]
    return [
        ("plain", "plain JSON route", [""]),
        ("typename", "strawberry {__typename}", [doc.body("{ __typename }")]),
        ("memory", "memory dashboard", [doc.body(doc.DASHBOARD)]),
        ("memory", "memory users page", [doc.body(doc.USERS_PAGE)]),
        ("tortoise", NAIVE, [doc.body(doc.DASHBOARD)]),
    ]


def project_operations(*, postgres: bool = False) -> list[Operation]:
    if postgres:
        return [
            Operation("dashboard (cache off, PostgreSQL)", [doc.body(doc.DASHBOARD)], CACHE_OFF)
        ]
    switches = [
        doc.body(doc.ASSIGN, user=encode_id("User", user), kind=kind)
        for kind in ("DAILY", "MONTHLY")
        for user in range(5, 105)
    ]
    deletes = [doc.body(doc.DELETE, contract=JOBS)] * len(switches)
    quote = doc.body(doc.QUOTE, contract=JOBS)
    return [
        Operation("dashboard (cache hit)", [doc.body(doc.DASHBOARD)], CACHE_ON),
        Operation("dashboard (cache off)", [doc.body(doc.DASHBOARD)], CACHE_OFF),
        Operation("users page (100, cache hit)", [doc.body(doc.USERS_PAGE)], CACHE_ON),
        Operation("users page (100, cache off)", [doc.body(doc.USERS_PAGE)], CACHE_OFF),
        Operation("quote (cache hit)", [quote], CACHE_ON),
        Operation("quote (cache off)", [quote], CACHE_OFF),
        # Mutations are never answered from the cache: one row each, with the cache on.
        Operation("purchase", [doc.body(doc.PURCHASE, contract=JOBS)], CACHE_ON),
        Operation(
            "delete + switch",
            [b for pair in zip(deletes, switches, strict=True) for b in pair],
            CACHE_ON,
        ),
    ]


def _by_name(rows: list[Row]) -> dict[str, Row]:
    return {row.operation: row for row in rows}


def ratio(rows: list[Row], name: str, reference: str, concurrency: int) -> float | None:
    found = _by_name(rows)
    if name not in found or reference not in found:
        return None
    base = found[reference].runs[concurrency].per_second
    return found[name].runs[concurrency].per_second / base if base else None


def table(rows: list[Row], concurrency: int) -> list[str]:
    lines = [
        f"### {concurrency} connection{'s' if concurrency > 1 else ''}",
        "",
        "| server | operation | req/s | p50 ms | p99 ms | CPU ms/req | failed | vs plain |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        run = row.runs[concurrency]
        versus = ratio(rows, row.operation, "plain JSON route", concurrency)
        lines.append(
            f"| {row.server} | {row.operation} | {run.per_second:,.0f} | {run.p50_ms:.1f} | "
            f"{run.p99_ms:.1f} | {run.cpu_ms_per_request:.2f} | {run.failed} | "
            f"{'' if versus is None else f'{versus:.2f}x'} |"
        )
    return lines


def report(rows: list[Row], counts: dict[str, str], options: Options) -> str:
    lines: list[str] = []
    for concurrency in options.concurrency:
        lines += [*table(rows, concurrency), ""]
    lines += [
        "| server | operation | peak RSS MiB | SQL statements per request (first, repeated) |",
        "| --- | --- | ---: | --- |",
    ]
    lines += [
        f"| {row.server} | {row.operation} | {row.peak_rss_kib / 1024:.0f} | "
        f"{counts.get(row.operation, '')} |"
        for row in rows
    ]
    return "\n".join(lines)


def memory_lines(memory: list[tuple[int, int, int]]) -> str:
    lines = []
    for cache, (before, after, requests) in zip(("on", "off"), memory, strict=True):
        lines.append(
            f"Dashboard memory, response cache {cache}: {before / 1024:.1f} MiB resident after "
            f"warm-up, {after / 1024:.1f} MiB after {requests:,} more requests "
            f"({(after - before) * 100 / before:+.1f}%)."
        )
    return "\n".join(lines)


def targets_table(
    rows: list[Row], memory: list[tuple[int, int, int]], targets: list[Target]
) -> str:
    concurrency = (
        TARGET_CONCURRENCY
        if any(TARGET_CONCURRENCY in row.runs for row in rows)
        else next(iter(rows[0].runs))
    )
    lines = [
        f"### Targets ({concurrency} connections, ratios of req/s in this run)",
        "",
        "| operation | against | target | measured | met |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for target in targets:
        measured = ratio(rows, target.row, target.reference, concurrency)
        if measured is None:
            continue  # a PostgreSQL row without --database-url
        met = "yes" if measured >= target.at_least else "no"
        lines.append(
            f"| {target.row} | {target.reference} | {target.at_least:.1f}x | "
            f"{measured:.2f}x | {met} |"
        )
    for cache, (before, after, _) in zip(("on", "off"), memory, strict=True):
        growth = (after - before) / before
        lines.append(
            f"| dashboard memory, cache {cache} | resident after warm-up | within 5% | "
            f"{growth * 100:+.1f}% | {'yes' if abs(growth) <= 0.05 else 'no'} |"
        )
    return "\n".join(lines)
