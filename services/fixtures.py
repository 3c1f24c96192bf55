"""`licensing load`: create what a fixture names; what already exists belongs to the service.

A file's pool sizes, contract dates and terms are what a NEW contract starts with. Once a
contract exists, its pools and terms change through the service (purchases, deletions,
renewals, assignments): a file that says otherwise leaves them as they are and reports each
difference, and `--adjust` applies them as audited operator changes. Plans (the catalogue)
follow the same rule. Company details, user names and roles, and storage usage (metered
outside) are the operator's: they are updated. Nothing is deleted.

One transaction for the data; master agreements are rendered afterwards, outside it.
"""

from __future__ import annotations

import datetime as dt

from tortoise.transactions import in_transaction

from services.documents import MasterTerms, add_master_agreement
from services.fixture_format import parse_fixture
from services.fixture_loader import Loader
from services.fixture_report import LoadReport


async def load_fixture_text(
    *, source: str, text: str, now: dt.datetime, adjust: bool = False
) -> LoadReport:
    spec = parse_fixture(source, text)
    report = LoadReport(source)
    loader = Loader(source=source, now=now, adjust=adjust, report=report)
    async with in_transaction():
        await loader.load(spec)
    await _add_master_agreements(loader.masters_due, report)
    return report


async def _add_master_agreements(due: list[MasterTerms], report: LoadReport) -> None:
    for terms in due:
        if await add_master_agreement(terms):
            report.count(report.created, "master agreements")
