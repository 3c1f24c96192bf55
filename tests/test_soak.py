"""The soak test's short form: load with an SMTP outage (and, on PostgreSQL, a killed worker)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from bench.soak_check import Report, baseline, check
from bench.soak_load import World
from licensing.db import orm
from models.billing import BillableDay
from models.contract import LicensePool
from models.renewal import RenewalChange, RenewalChangeStatus
from models.user import User
from services.fixtures import load_fixture_text
from tests.conftest import EXAMPLE_FIXTURE, REPO, TODAY
from tests.databases import ON_POSTGRES

NOW = dt.datetime.combine(TODAY, dt.time(9), tzinfo=dt.UTC)


def _world() -> World:
    return World(
        contract_ids=[1],
        user_ids=[],
        token="",
        activity_token="",
        base_url="",
        public_base_url="",
    )


def test_short_soak_with_faults_loses_nothing(database_url: str, tmp_path: Path) -> None:
    report_path = tmp_path / "soak.json"
    command = [
        sys.executable,
        "-m",
        "bench.soak",
        "--database-url",
        database_url,
        "--duration",
        "15",
        "--clients",
        "6",
        "--users",
        "60",
        "--json",
        str(report_path),
    ]
    if ON_POSTGRES:
        command += ["--workers", "2"]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(report_path.read_text())
    figures = report["figures"]
    assert report["passed"]
    assert len(report["checks"]) > 20
    # The faults really happened and the load really changed things.
    assert figures["emails sent after a failed attempt"] > 0
    assert figures["licenses deleted"] > 0
    assert figures["licenses added by signatures"] > 0
    assert figures["purchases"]["CONFIRMED"] > 0
    # Renewal changes were requested, signed and superseded or cancelled beside the rest.
    changes = figures["renewal changes"]
    assert changes.get("SCHEDULED", 0) + changes.get("SUPERSEDED", 0) > 0
    assert sum(changes.values()) > 1
    # Activity was reported throughout, and some of it made days billable.
    assert figures["billable days recorded"] > 0
    # Pages stayed subscribed to live updates and were sent the changes.
    assert figures["live events"] > 3
    # A partner's endpoints received the events, one of them after 503s.
    assert figures["webhook deliveries"]["SUCCEEDED"] > 10
    assert figures["webhook requests answered 503"] > 0
    # /metrics counted the clients' requests, whichever worker answered (the checker compares).
    assert figures["metrics: GraphQL requests counted"] > 100
    assert figures["metrics: response cache hits"] > 0
    if ON_POSTGRES:
        assert figures["workers killed (SIGKILL)"] == 1
        assert figures["slowest worker replacement (s)"] < 30


async def test_the_checker_notices_a_scheduled_renewal_change_that_does_not_fit(
    database_url: str,
) -> None:
    async with orm(database_url):
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=NOW)
        before = await baseline()
        world = _world()

        def scheduled(count: int) -> RenewalChange:
            return RenewalChange(
                company_id=1,
                contract_id=1,
                term_expires_on=dt.date(2027, 12, 31),
                contracted_licenses=count,
                status=RenewalChangeStatus.SCHEDULED,
                quote={},
                requested_at=NOW,
                confirmation_sent_to="a@b.example",
                expires_at=NOW,
                request_fingerprint="x",
            )

        # Two Jobs contracted licenses are assigned; this one keeps one.
        await scheduled(1).save()
        # The database itself refuses a second scheduled change of the same term.
        with pytest.raises(IntegrityError):
            await scheduled(9).save()
        tampered = Report()
        await check(before, world, [], [], tampered)
    failed = {name for name, passed, _ in tampered.checks if not passed}
    assert "a scheduled renewal change always fits the assigned contracted licenses" in failed


async def test_the_checker_notices_a_change_the_audit_log_does_not_explain(
    database_url: str,
) -> None:
    async with orm(database_url):
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=NOW)
        before = await baseline()
        world = _world()
        clean = Report()
        await check(before, world, [], [], clean)
        assert clean.passed, clean.checks

        await LicensePool.filter(contract_id=1, kind="DAILY").update(total=F("total") + 1)
        tampered = Report()
        await check(before, world, [], [], tampered)
    failed = {name for name, passed, _ in tampered.checks if not passed}
    assert failed == {
        "pool 3: total = initial + signed purchases - deleted",
        "pool 3: total = audit replay",
    }


async def test_the_checker_notices_a_billable_day_nobody_reported(database_url: str) -> None:
    async with orm(database_url):
        await load_fixture_text(source="f.json", text=EXAMPLE_FIXTURE.read_text(), now=NOW)
        before = await baseline()
        world = _world()
        erin = await User.get(email="erin@acme-heating.example")
        daily = await LicensePool.get(contract_id=1, kind="DAILY")
        await BillableDay.create(
            company_id=1,
            pool_id=daily.id,
            user_id=erin.id,
            user_name=erin.name,
            day=TODAY,
            recorded_at=NOW,
        )
        tampered = Report()
        await check(before, world, [], [], tampered)
    failed = {name for name, passed, _ in tampered.checks if not passed}
    assert failed == {
        "every billable day was reported, in a DAILY pool of the user's company",
        "the billable days account for every day the clients were told was added",
    }
