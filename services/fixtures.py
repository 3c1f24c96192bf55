"""`licensing load`: create or update what a fixture names, in one transaction, deleting nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tortoise.functions import Count
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.company import Company
from models.contract import Contract, LicensePool, StorageUsage
from models.enums import KIND_ORDER, LicenseKind, Product
from models.plan import Plan
from models.user import LicenseAssignment, User
from services import data_version
from services.documents import ensure_master_agreement
from services.errors import FixtureError
from services.fixture_format import CompanySpec, ContractSpec, FixtureSpec, UserSpec, parse_fixture

M = TypeVar("M", bound=Model)


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, bucket: dict[str, int], what: str) -> None:
        bucket[what] = bucket.get(what, 0) + 1

    def summary(self) -> str:
        parts = [f"created {n} {what}" for what, n in sorted(self.created.items())]
        parts += [f"updated {n} {what}" for what, n in sorted(self.updated.items())]
        return ", ".join(parts) or "nothing to change"


async def load_fixture_text(*, source: str, text: str, now: dt.datetime) -> LoadReport:
    spec = parse_fixture(source, text)
    async with in_transaction():
        await data_version.all_changed()
        return await _Loader(source, now).load(spec)


class _Loader:
    def __init__(self, source: str, now: dt.datetime) -> None:
        self.source = source
        self.now = now
        self.report = LoadReport()
        self.plans: dict[str, Plan] = {}
        # New pool totals, written together with the recount so the CHECK never sees
        # a total below the assigned count in between.
        self.new_totals: dict[int, int] = {}

    def fail(self, path: str, message: str) -> FixtureError:
        return FixtureError(f"{self.source}: {path}: {message}")

    async def _upsert(
        self,
        model: type[M],
        lookup: dict[str, Any],
        values: dict[str, Any],
        what: str,
        *,
        stamp: dict[str, Any] | None = None,
    ) -> M:
        """Create or update by natural key; `stamp` is written only when something changes."""
        stamp = stamp or {}
        row = await model.filter(**lookup).first()
        if row is None:
            row = await model.create(**lookup, **values, **stamp)
            self.report.count(self.report.created, what)
            return row
        changed = {key: value for key, value in values.items() if getattr(row, key) != value}
        if changed:
            await model.filter(id=row.pk).update(**changed, **stamp)
            for key, value in changed.items():
                setattr(row, key, value)
            self.report.count(self.report.updated, what)
        return row

    async def load(self, spec: FixtureSpec) -> LoadReport:
        for plan in spec.plans:
            self.plans[plan.name] = await self._upsert(
                Plan,
                {"name": plan.name},
                {
                    "product": plan.product,
                    "currency": plan.currency,
                    "storage_allowance_per_license_bytes": plan.storage_allowance_per_license_bytes,
                    "contracted_price_minor": plan.prices[LicenseKind.CONTRACTED],
                    "monthly_price_minor": plan.prices[LicenseKind.MONTHLY],
                    "daily_price_minor": plan.prices[LicenseKind.DAILY],
                },
                "plans",
            )
        for index, company in enumerate(spec.companies):
            await self._load_company(f"$.companies[{index}]", company)
        return self.report

    async def _plan(self, path: str, name: str) -> Plan:
        plan = self.plans.get(name) or await Plan.get_or_none(name=name)
        if plan is None:
            raise self.fail(path, f"no plan is named {name!r}: add it to `plans`")
        return plan

    async def _load_company(self, path: str, spec: CompanySpec) -> None:
        company = await self._upsert(
            Company,
            {"email": spec.email},
            {
                "name": spec.name,
                "tax_rate_basis_points": spec.tax_rate_basis_points,
                "currency": spec.currency,
            },
            "companies",
        )
        contracts: dict[Product, Contract] = {}
        for index, contract_spec in enumerate(spec.contracts):
            contract_path = f"{path}.contracts[{index}]"
            if contract_spec.product in contracts:
                raise self.fail(contract_path, f"a second {contract_spec.product} contract")
            contracts[contract_spec.product] = await self._load_contract(
                contract_path, company, contract_spec
            )
        seen: set[str] = set()
        for index, user_spec in enumerate(spec.users):
            user_path = f"{path}.users[{index}]"
            if user_spec.email in seen:
                raise self.fail(user_path, f"{user_spec.email} is listed twice")
            seen.add(user_spec.email)
            await self._load_user(user_path, company, user_spec)
        await self._recount_assigned(path, company)
        for contract in await Contract.filter(company_id=company.id).select_related("plan"):
            totals = {
                LicenseKind(kind): total
                for kind, total in await LicensePool.filter(contract_id=contract.id).values_list(
                    "kind", "total"
                )
            }
            if await ensure_master_agreement(
                company=company, contract=contract, plan=contract.plan, totals=totals
            ):
                self.report.count(self.report.updated, "master agreement PDFs")

    async def _load_contract(self, path: str, company: Company, spec: ContractSpec) -> Contract:
        plan = await self._plan(f"{path}.plan", spec.plan)
        if plan.product != spec.product:
            raise self.fail(
                f"{path}.plan", f"{plan.name!r} is a {plan.product} plan, not a {spec.product} one"
            )
        if plan.currency != company.currency:
            raise self.fail(
                f"{path}.plan",
                f"{plan.name!r} is priced in {plan.currency} but "
                f"the company pays in {company.currency}",
            )
        contract = await self._upsert(
            Contract,
            {"company_id": company.id, "product": spec.product},
            {"plan_id": plan.id, "starts_on": spec.starts_on, "expires_on": spec.expires_on},
            "contracts",
        )
        for kind in KIND_ORDER:
            existing = await LicensePool.filter(contract_id=contract.id, kind=kind).first()
            if existing is None:
                await LicensePool.create(
                    contract_id=contract.id, kind=kind, total=spec.pools.get(kind, 0), assigned=0
                )
                self.report.count(self.report.created, "license pools")
            elif kind in spec.pools and existing.total != spec.pools[kind]:
                self.new_totals[existing.id] = spec.pools[kind]
        if spec.used_bytes is not None:
            await self._upsert(
                StorageUsage,
                {"contract_id": contract.id},
                {"used_bytes": spec.used_bytes},
                "storage usage",
                stamp={"measured_at": self.now},
            )
        elif not await StorageUsage.exists(contract_id=contract.id):
            await StorageUsage.create(contract_id=contract.id, used_bytes=0, measured_at=self.now)
        return contract

    async def _load_user(self, path: str, company: Company, spec: UserSpec) -> None:
        existing = await User.get_or_none(email=spec.email)
        if existing is not None and existing.company_id != company.id:
            raise self.fail(f"{path}.email", f"{spec.email} belongs to another company")
        user = await self._upsert(
            User,
            {"email": spec.email},
            {"name": spec.name, "role": spec.role, "company_id": company.id},
            "users",
        )
        for product, kind in spec.licenses.items():
            pool = await LicensePool.filter(
                contract__company_id=company.id, contract__product=product, kind=kind
            ).first()
            if pool is None:
                raise self.fail(
                    f"{path}.licenses.{product}", f"the company has no {product} contract"
                )
            await self._upsert(
                LicenseAssignment,
                {"user_id": user.id, "product": product},
                {"pool_id": pool.id},
                "license assignments",
                stamp={"assigned_at": self.now},
            )

    async def _recount_assigned(self, path: str, company: Company) -> None:
        counts = dict(
            await LicenseAssignment.filter(pool__contract__company_id=company.id)
            .annotate(n=Count("id"))
            .group_by("pool_id")
            .values_list("pool_id", "n")
        )
        pools = await LicensePool.filter(contract__company_id=company.id).select_related("contract")
        for pool in pools:
            total = self.new_totals.get(pool.id, pool.total)
            assigned = int(counts.get(pool.id, 0))
            if assigned > total:
                raise self.fail(
                    path,
                    f"the {pool.contract.product} {pool.kind} pool would hold {assigned} assigned "
                    f"licenses but only {total} in total: raise its total or assign fewer",
                )
            if (pool.total, pool.assigned) != (total, assigned):
                await LicensePool.filter(id=pool.id).update(total=total, assigned=assigned)
                self.report.count(self.report.updated, "pool counts")
