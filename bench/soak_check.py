"""After the soak: prove from the database, the audit log and the mailbox that nothing was lost."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from bench.soak_live import Watcher
from bench.soak_load import World
from licensing.mailer import message_id
from models.audit import AuditEvent
from models.billing import BillableDay
from models.contract import LicensePool
from models.outbox import EmailKind, EmailStatus, OutboxEmail
from models.purchase import LicensePurchase, PurchaseStatus
from models.renewal import RenewalChange, RenewalChangeStatus
from models.user import LicenseAssignment, User


@dataclass(frozen=True)
class Baseline:
    """The database before the load: every pool's counts and the last row of each log."""

    totals: dict[int, int]
    assigned: dict[int, int]
    last_purchase_id: int
    last_event_id: int
    last_email_id: int
    last_change_id: int
    last_billable_day_id: int


async def baseline() -> Baseline:
    pools = await LicensePool.all().values_list("id", "total", "assigned")
    return Baseline(
        totals={pool_id: total for pool_id, total, _ in pools},
        assigned={pool_id: assigned for pool_id, _, assigned in pools},
        last_purchase_id=await _last_id(LicensePurchase),
        last_event_id=await _last_id(AuditEvent),
        last_email_id=await _last_id(OutboxEmail),
        last_change_id=await _last_id(RenewalChange),
        last_billable_day_id=await _last_id(BillableDay),
    )


async def _last_id(
    model: type[LicensePurchase]
    | type[AuditEvent]
    | type[OutboxEmail]
    | type[RenewalChange]
    | type[BillableDay],
) -> int:
    row = await model.all().order_by("-id").first()
    return row.id if row else 0


@dataclass
class Report:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, passed: bool, detail: str = "") -> None:
        self.checks.append((name, passed, detail))

    @property
    def passed(self) -> bool:
        return all(passed for _, passed, _ in self.checks)


@dataclass(frozen=True)
class Window:
    """A time span (monotonic seconds) in which a fault may cut requests."""

    start: float
    end: float

    def holds(self, moment: float) -> bool:
        return self.start <= moment <= self.end


async def check(
    before: Baseline,
    world: World,
    inbox: list[EmailMessage],
    kill_windows: list[Window],
    report: Report,
) -> None:
    events = await AuditEvent.filter(id__gt=before.last_event_id).order_by("id")
    await _check_pools(before, events, report)
    await _check_against_clients(before, world, events, report)
    await _check_purchases(before, world, events, report)
    await _check_renewal_changes(before, world, events, report)
    await _check_billable_days(before, world, report)
    # A duplicate email needs a crash between send and commit: a killed worker, or the SMTP
    # server stopped after it took a message but before its answer reached the sender.
    await _check_mail(before, world.public_base_url, inbox, len(kill_windows) + 1, report)
    _check_responses(world, kill_windows, report)


def check_live(watchers: list[Watcher], final: int, heard: list[bool], report: Report) -> None:
    """Open pages: each ended at the company's final version, and no connection went back (a
    resync after the PostgreSQL listener reconnects may send the same version again)."""
    events = sum(len(versions) for watcher in watchers for versions in watcher.connections)
    connections = sum(len(watcher.connections) for watcher in watchers)
    report.figures["live events"] = events
    report.figures["live connections"] = connections
    report.check(
        "live: every open page was sent the company's final version",
        all(heard),
        f"final {final}, pages ended at {[watcher.newest for watcher in watchers]}",
    )
    backwards = [
        versions
        for watcher in watchers
        for versions in watcher.connections
        if any(later < earlier for earlier, later in itertools.pairwise(versions))
    ]
    report.check(
        "live: versions never went back on a connection",
        not backwards,
        f"{len(backwards)} of {connections} connections went back",
    )
    refusals = [refusal for watcher in watchers for refusal in watcher.refusals]
    report.check("live: no subscription was refused", not refusals, "; ".join(refusals[:3]))


async def _check_pools(before: Baseline, events: list[AuditEvent], report: Report) -> None:
    pools = {pool.id: pool for pool in await LicensePool.all()}
    rows = Counter(pk for (pk,) in await LicenseAssignment.all().values_list("pool_id"))
    confirmed: Counter[int] = Counter()
    for pool_id, quantity in await LicensePurchase.filter(
        id__gt=before.last_purchase_id, status=PurchaseStatus.CONFIRMED
    ).values_list("pool_id", "quantity"):
        confirmed[pool_id] += quantity
    deleted = _deleted_per_pool(events)
    replayed_totals = _replay_totals(before, events, report)
    replayed_assigned = _replay_assigned(before, events)
    for pool_id, pool in sorted(pools.items()):
        expected = before.totals[pool_id] + confirmed[pool_id] - deleted[pool_id]
        report.check(
            f"pool {pool_id}: total = initial + signed purchases - deleted",
            pool.total == expected,
            f"{pool.total} = {before.totals[pool_id]} + {confirmed[pool_id]} - {deleted[pool_id]}",
        )
        report.check(
            f"pool {pool_id}: 0 <= assigned <= total",
            0 <= pool.assigned <= pool.total,
            f"0 <= {pool.assigned} <= {pool.total}",
        )
        report.check(
            f"pool {pool_id}: assigned = license rows = audit replay",
            pool.assigned == rows[pool_id] == replayed_assigned[pool_id],
            f"{pool.assigned}, {rows[pool_id]}, {replayed_assigned[pool_id]}",
        )
        report.check(
            f"pool {pool_id}: total = audit replay",
            pool.total == replayed_totals[pool_id],
            f"{pool.total}, {replayed_totals[pool_id]}",
        )
    report.figures["licenses deleted"] = sum(deleted.values())
    report.figures["licenses added by signatures"] = sum(confirmed.values())


def _deleted_per_pool(events: list[AuditEvent]) -> Counter[int]:
    deleted: Counter[int] = Counter()
    for event in events:
        if event.action == "licenses.deleted":
            deleted[event.subject_id] += event.details["quantity"]
    return deleted


def _replay_totals(before: Baseline, events: list[AuditEvent], report: Report) -> dict[int, int]:
    """Walk each pool's total through its events; every step must start where the last ended."""
    totals = dict(before.totals)
    broken = []
    for event in events:
        if event.action not in ("licenses.deleted", "pool.total_increased"):
            continue
        pool_id = event.subject_id
        if event.details["totalBefore"] != totals[pool_id]:
            broken.append(event.id)
        totals[pool_id] = event.details["totalAfter"]
    report.check(
        "every total change in the audit log starts where the last ended",
        not broken,
        f"events out of step: {broken[:10]}",
    )
    return totals


def _replay_assigned(before: Baseline, events: list[AuditEvent]) -> dict[int, int]:
    assigned: defaultdict[int, int] = defaultdict(int, before.assigned)
    for event in events:
        details = event.details
        if event.action == "license.assigned":
            assigned[details["toPoolId"]] += 1
        elif event.action == "license.switched":
            assigned[details["fromPoolId"]] -= 1
            assigned[details["toPoolId"]] += 1
        elif event.action == "license.unassigned":
            assigned[details["poolId"]] -= 1
        elif event.action == "user.deleted":
            for pool_id in details["freedPoolIds"]:
                assigned[pool_id] -= 1
    return assigned


async def _check_against_clients(
    before: Baseline, world: World, events: list[AuditEvent], report: Report
) -> None:
    """What the clients were told matches what the audit log says happened."""
    answered: Counter[str] = Counter()
    cut: Counter[str] = Counter()
    for outcome in world.outcomes:
        if outcome.operation == "delete":
            weight = outcome.subject["quantity"]
            if outcome.result == "ok":
                answered["delete"] += weight
            elif outcome.result == "cut":
                cut["delete"] += weight
        elif outcome.operation in ("delete_user", "sign", "sign_page"):
            name = "sign" if outcome.operation.startswith("sign") else outcome.operation
            if outcome.result == "ok":
                answered[name] += 1
            elif outcome.result == "cut":
                cut[name] += 1
    logged = {
        "delete": sum(_deleted_per_pool(events).values()),
        "delete_user": sum(1 for e in events if e.action == "user.deleted"),
        "sign": sum(1 for e in events if e.action == "purchase.confirmed"),
    }
    for name, count in logged.items():
        low, high = answered[name], answered[name] + cut[name]
        report.check(
            f"audit log accounts for every {name} the clients were told of",
            low <= count <= high,
            f"{low} <= {count} <= {high}",
        )
    still_there = await User.filter(id__in=sorted(world.deleted_user_ids)).count()
    report.check(
        "every user the clients were told is deleted is gone",
        still_there == 0,
        f"{still_there} of {len(world.deleted_user_ids)} still there",
    )
    report.figures["changes in the audit log"] = len(events)


async def _check_purchases(
    before: Baseline, world: World, events: list[AuditEvent], report: Report
) -> None:
    purchases = await LicensePurchase.filter(id__gt=before.last_purchase_id)
    by_key = Counter(p.idempotency_key for p in purchases)
    answered = {key: pid for key, pid in world.purchase_keys.items() if pid is not None}
    report.check(
        "one purchase per idempotency key, the one the client was told of",
        all(count == 1 for count in by_key.values())
        and all(by_key[key] == 1 for key in answered)
        and {p.id for p in purchases if p.idempotency_key in answered} == set(answered.values()),
        f"{len(purchases)} purchases for {len(world.purchase_keys)} keys",
    )
    requested = Counter(e.subject_id for e in events if e.action == "purchase.requested")
    confirmed = Counter(e.subject_id for e in events if e.action == "purchase.confirmed")
    raised = Counter(e.details["purchaseId"] for e in events if e.action == "pool.total_increased")
    report.check(
        "every purchase is in the audit log once; every signed one added its licenses once",
        all(requested[p.id] == 1 for p in purchases)
        and all(
            confirmed[p.id] == raised[p.id] == (1 if p.status == PurchaseStatus.CONFIRMED else 0)
            for p in purchases
        ),
    )
    statuses = Counter(str(p.status) for p in purchases)
    report.figures["purchases"] = dict(sorted(statuses.items()))


async def _check_mail(
    before: Baseline, base_url: str, inbox: list[EmailMessage], crashes: int, report: Report
) -> None:
    purchases = await LicensePurchase.filter(id__gt=before.last_purchase_id)
    emails = await OutboxEmail.filter(id__gt=before.last_email_id)
    arrived = Counter(str(message["Message-ID"]) for message in inbox)
    ids = {email.id: message_id(email.id, base_url, email.kind) for email in emails}
    sent = [email for email in emails if email.status == EmailStatus.SENT]
    report.check(
        "every email marked sent arrived",
        all(arrived[ids[email.id]] >= 1 for email in sent),
        f"{sum(1 for e in sent if arrived[ids[e.id]] == 0)} of {len(sent)} missing",
    )
    waiting = [e for e in emails if e.status == EmailStatus.QUEUED and arrived[ids[e.id]] == 0]
    report.check("no email is still waiting to go", not waiting, f"{len(waiting)} waiting")
    gave_up = [e for e in emails if e.status == EmailStatus.FAILED and e.attempts >= 12]
    report.check("no email was given up on", not gave_up, f"{len(gave_up)} given up")
    announced = {e.purchase_id for e in emails if arrived[ids[e.id]]}
    unannounced = [
        p.id for p in purchases if p.status != PurchaseStatus.CANCELLED and p.id not in announced
    ]
    report.check(
        "every pending or signed purchase's confirmation arrived",
        not unannounced,
        f"purchases without one: {unannounced[:10]}",
    )
    known = set(ids.values())
    report.check(
        "every email that arrived is one the outbox sent",
        all(mid in known for mid in arrived),
        f"{sum(1 for mid in arrived if mid not in known)} strangers",
    )
    duplicates = sum(count - 1 for count in arrived.values())
    report.check(
        "an email arrived twice only where a crash fell between send and commit",
        duplicates <= crashes,
        f"{duplicates} duplicates, {crashes} crashes",
    )
    report.figures["emails arrived"] = len(inbox)
    report.figures["emails arrived twice (crash between send and commit)"] = duplicates
    report.figures["emails sent after a failed attempt"] = sum(
        1 for email in sent if email.attempts > 1
    )


async def _check_renewal_changes(
    before: Baseline, world: World, events: list[AuditEvent], report: Report
) -> None:
    """At most one change awaiting signature and one scheduled per contract and term; the
    scheduled count always fits the assigned licenses; every change announced and audited."""
    changes = await RenewalChange.filter(id__gt=before.last_change_id)
    open_per_term: Counter[tuple[int, str, str]] = Counter(
        (c.contract_id, str(c.term_expires_on), str(c.status))
        for c in changes
        if c.status in (RenewalChangeStatus.PENDING_SIGNATURE, RenewalChangeStatus.SCHEDULED)
    )
    report.check(
        "at most one pending and one scheduled renewal change per contract and term",
        all(count == 1 for count in open_per_term.values()),
        f"{dict(open_per_term)}",
    )
    over = []
    for change in changes:
        if change.status == RenewalChangeStatus.SCHEDULED:
            pool = await LicensePool.get(contract_id=change.contract_id, kind="CONTRACTED")
            if pool.assigned > change.contracted_licenses:
                over.append((change.id, pool.assigned, change.contracted_licenses))
    report.check(
        "a scheduled renewal change always fits the assigned contracted licenses",
        not over,
        f"(change, assigned, scheduled): {over[:5]}",
    )
    requested = Counter(e.subject_id for e in events if e.action == "renewal_change.requested")
    signed = Counter(e.subject_id for e in events if e.action == "renewal_change.signed")
    announced = {
        e.renewal_change_id for e in await OutboxEmail.filter(kind=EmailKind.RENEWAL_CONFIRMATION)
    }
    report.check(
        "every renewal change is audited once, announced, and signed at most once",
        all(requested[c.id] == 1 and c.id in announced and signed[c.id] <= 1 for c in changes),
        f"{len(changes)} changes",
    )
    unknown = set(world.renewal_change_ids) - {c.id for c in changes}
    report.check(
        "every renewal change a client was told of exists", not unknown, f"{sorted(unknown)[:5]}"
    )
    report.figures["renewal changes"] = dict(
        sorted(Counter(str(c.status) for c in changes).items())
    )


async def _check_billable_days(before: Baseline, world: World, report: Report) -> None:
    """Every billable day was reported by a client, is in a DAILY pool of the user's company,
    is there once, and the days the clients were told of are all there."""
    rows = await BillableDay.filter(id__gt=before.last_billable_day_id).values_list(
        "pool_id", "user_id", "day", "company_id"
    )
    daily = dict(await LicensePool.filter(kind="DAILY").values_list("id", "contract__company_id"))
    sent: set[tuple[int, str]] = set()
    told = cut = 0
    for outcome in world.outcomes:
        if outcome.operation != "activity" or outcome.result not in ("ok", "cut"):
            continue
        sent.update((user, day) for user, day in outcome.subject["pairs"])
        if outcome.result == "ok":
            told += outcome.subject.get("added", 0)
        else:
            cut += len(outcome.subject["pairs"])
    once = Counter((pool, user, day) for pool, user, day, _ in rows)
    report.check(
        "every billable day is there once",
        all(count == 1 for count in once.values()),
        f"{len(rows)} rows, {len(once)} distinct",
    )
    report.check(
        "every billable day was reported, in a DAILY pool of the user's company",
        all(
            (user, day.isoformat()) in sent and daily.get(pool) == company
            for pool, user, day, company in rows
        ),
        f"{len(sent)} (user, day) pairs reported",
    )
    report.check(
        "the billable days account for every day the clients were told was added",
        told <= len(rows) <= told + cut,
        f"{told} <= {len(rows)} <= {told + cut}",
    )
    report.figures["billable days recorded"] = len(rows)


def _check_responses(world: World, kill_windows: list[Window], report: Report) -> None:
    outside = [
        o
        for o in world.outcomes
        if o.result in ("cut", "5xx") and not any(w.holds(o.finished) for w in kill_windows)
    ]
    errors = [o for o in world.outcomes if o.result == "error"]
    report.check(
        "no 5xx and no cut request except while a worker was being killed",
        not outside,
        ", ".join(f"{o.operation}:{o.result}:{o.code}" for o in outside[:10]),
    )
    report.check(
        "no GraphQL errors",
        not errors,
        ", ".join(f"{o.operation}:{o.code}" for o in errors[:10]),
    )
    report.figures["requests"] = len(world.outcomes)
    report.figures["cut by a kill"] = sum(
        1 for o in world.outcomes if o.result == "cut" and o not in outside
    )
    report.figures["outcomes"] = dict(sorted(world.tally().items()))
