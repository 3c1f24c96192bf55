"""The fixture loader's rules, row by row (see services/fixtures.py for the whole)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tortoise.functions import Count

from models.company import Company
from models.contract import Contract, LicensePool, StorageUsage
from models.enums import KIND_ORDER, LicenseKind, Product
from models.plan import Plan
from models.user import LicenseAssignment
from services import data_version
from services.documents import MasterTerms, has_master_agreement, master_terms
from services.fixture_format import CompanySpec, ContractSpec, FixtureSpec, PlanSpec
from services.fixture_report import LoadContext, LoadReport
from services.fixture_users import deleted_emails, load_user

# Plan columns and where the file says them.
PLAN_FIELDS = {
    "product": "product",
    "currency": "currency",
    "storage_allowance_per_license_bytes": "storageAllowancePerLicenseBytes",
    "contracted_price_minor": "prices.CONTRACTED",
    "monthly_price_minor": "prices.MONTHLY",
    "daily_price_minor": "prices.DAILY",
}
CONTRACT_TERMS = {"plan_id": "plan", "starts_on": "startsOn", "expires_on": "expiresOn"}


def _plan_values(spec: PlanSpec) -> dict[str, Any]:
    return {
        "product": spec.product,
        "currency": spec.currency,
        "storage_allowance_per_license_bytes": spec.storage_allowance_per_license_bytes,
        "contracted_price_minor": spec.prices[LicenseKind.CONTRACTED],
        "monthly_price_minor": spec.prices[LicenseKind.MONTHLY],
        "daily_price_minor": spec.prices[LicenseKind.DAILY],
    }


class Loader:
    def __init__(self, *, source: str, now: dt.datetime, adjust: bool, report: LoadReport) -> None:
        self.ctx = LoadContext(source, now, adjust, report)
        self.report = report
        self.plans: dict[str, Plan] = {}
        self.adjusted_plans: set[int] = set()
        # Pool totals to write with the recount, so the CHECK never sees total < assigned.
        self.new_totals: dict[int, int] = {}
        # Contracts whose terms --adjust changed: each gets a new master agreement.
        self.terms_changed: set[int] = set()
        # Master agreements to render and add once the data is committed.
        self.masters_due: list[MasterTerms] = []

    async def load(self, spec: FixtureSpec) -> None:
        for index, plan in enumerate(spec.plans):
            self.plans[plan.name] = await self._load_plan(f"$.plans[{index}]", plan)
        for index, company in enumerate(spec.companies):
            await self._load_company(f"$.companies[{index}]", company)
        await self._reissue_for_adjusted_plans()

    async def _load_plan(self, path: str, spec: PlanSpec) -> Plan:
        values = _plan_values(spec)
        plan = await Plan.filter(name=spec.name).first()
        if plan is None:
            self.report.count(self.report.created, "plans")
            return await Plan.create(name=spec.name, **values)
        changed = {key: value for key, value in values.items() if getattr(plan, key) != value}
        for key, value in changed.items():
            self.ctx.differ(
                f"{path}.{PLAN_FIELDS[key]}", f"plan {plan.name!r}", getattr(plan, key), value
            )
        if changed and self.ctx.adjust:
            await Plan.filter(id=plan.id).update(**changed)
            for key, value in changed.items():
                setattr(plan, key, value)
            self.adjusted_plans.add(plan.id)
            self.report.count(self.report.updated, "plans")
        return plan

    async def _plan(self, path: str, name: str) -> Plan:
        plan = self.plans.get(name) or await Plan.get_or_none(name=name)
        if plan is None:
            raise self.ctx.fail(path, f"no plan is named {name!r}: add it to `plans`")
        return plan

    async def _load_company(self, path: str, spec: CompanySpec) -> None:
        existing = await Company.filter(email=spec.email).first()
        if existing is not None:
            # The company row first: the lock order of every change (services/data_version.py).
            await data_version.changed(existing.id)
        company = await self.ctx.upsert(
            Company,
            {"email": spec.email},
            {
                "name": spec.name,
                "tax_rate_basis_points": spec.tax_rate_basis_points,
                "currency": spec.currency,
            },
            "companies",
        )
        products: set[Product] = set()
        for index, contract_spec in enumerate(spec.contracts):
            contract_path = f"{path}.contracts[{index}]"
            if contract_spec.product in products:
                raise self.ctx.fail(contract_path, f"a second {contract_spec.product} contract")
            products.add(contract_spec.product)
            await self._load_contract(contract_path, company, contract_spec)
        deleted = await deleted_emails(company.id)
        seen: set[str] = set()
        for index, user_spec in enumerate(spec.users):
            user_path = f"{path}.users[{index}]"
            if user_spec.email in seen:
                raise self.ctx.fail(user_path, f"{user_spec.email} is listed twice")
            seen.add(user_spec.email)
            await load_user(self.ctx, user_path, company, user_spec, deleted)
        await self._recount(path, company)
        await self._queue_masters(company)

    async def _load_contract(self, path: str, company: Company, spec: ContractSpec) -> None:
        plan = await self._plan(f"{path}.plan", spec.plan)
        self._check_plan(f"{path}.plan", company, plan, spec.product)
        contract = await Contract.filter(company_id=company.id, product=spec.product).first()
        if contract is None:
            contract = await self._new_contract(company, plan, spec)
        else:
            await self._existing_contract(path, company, contract, plan, spec)
        await self._storage(contract, spec)

    def _check_plan(self, path: str, company: Company, plan: Plan, product: Product) -> None:
        if plan.product != product:
            raise self.ctx.fail(
                path, f"{plan.name!r} is a {plan.product} plan, not a {product} one"
            )
        if plan.currency != company.currency:
            raise self.ctx.fail(
                path,
                f"{plan.name!r} is priced in {plan.currency} but "
                f"the company pays in {company.currency}",
            )

    async def _new_contract(self, company: Company, plan: Plan, spec: ContractSpec) -> Contract:
        contract = await Contract.create(
            company_id=company.id,
            product=spec.product,
            plan_id=plan.id,
            starts_on=spec.starts_on,
            expires_on=spec.expires_on,
        )
        self.report.count(self.report.created, "contracts")
        for kind in KIND_ORDER:
            await LicensePool.create(
                contract_id=contract.id, kind=kind, total=spec.pools.get(kind, 0), assigned=0
            )
        self.report.count(self.report.created, "license pools")
        return contract

    async def _existing_contract(
        self, path: str, company: Company, contract: Contract, plan: Plan, spec: ContractSpec
    ) -> None:
        in_file = {"plan_id": plan.id, "starts_on": spec.starts_on, "expires_on": spec.expires_on}
        shown = {"plan_id": plan.name}
        changed: dict[str, Any] = {}
        for key, value in in_file.items():
            if getattr(contract, key) != value:
                current = (await Plan.get(id=contract.plan_id)).name if key == "plan_id" else None
                what = f"{company.name}'s {contract.product} contract {CONTRACT_TERMS[key]}"
                if self.ctx.differ(
                    f"{path}.{CONTRACT_TERMS[key]}",
                    what,
                    current or getattr(contract, key),
                    shown.get(key, value),
                ):
                    changed[key] = value
        if changed:
            await self._adjust_terms(company, contract, changed)
        for kind in KIND_ORDER:
            pool = await LicensePool.get(contract_id=contract.id, kind=kind)
            if kind in spec.pools and pool.total != spec.pools[kind]:
                what = f"{company.name}'s {contract.product} {kind} licenses"
                if self.ctx.differ(f"{path}.pools.{kind}", what, pool.total, spec.pools[kind]):
                    self.new_totals[pool.id] = spec.pools[kind]
                    if kind == LicenseKind.CONTRACTED:
                        self.terms_changed.add(contract.id)

    async def _adjust_terms(
        self, company: Company, contract: Contract, changed: dict[str, Any]
    ) -> None:
        before = {key: str(getattr(contract, key)) for key in changed}
        await Contract.filter(id=contract.id).update(**changed)
        for key, value in changed.items():
            setattr(contract, key, value)
        self.terms_changed.add(contract.id)
        self.report.count(self.report.updated, "contracts")
        await self.ctx.audit(
            company.id,
            "contract.terms_adjusted",
            ("Contract", contract.id),
            {"before": before, "after": {key: str(value) for key, value in changed.items()}},
            contract_id=contract.id,
        )

    async def _storage(self, contract: Contract, spec: ContractSpec) -> None:
        """Storage usage is measured outside the service: the file's figure is the news."""
        row = await StorageUsage.filter(contract_id=contract.id).first()
        if row is None:
            await StorageUsage.create(
                contract_id=contract.id, used_bytes=spec.used_bytes or 0, measured_at=self.ctx.now
            )
            self.report.count(self.report.created, "storage usage")
        elif spec.used_bytes is not None and row.used_bytes != spec.used_bytes:
            await StorageUsage.filter(id=row.id).update(
                used_bytes=spec.used_bytes, measured_at=self.ctx.now
            )
            self.report.count(self.report.updated, "storage usage")

    async def _recount(self, path: str, company: Company) -> None:
        """assigned = the assignment rows; a total never below it (else the load is refused)."""
        counts = dict(
            await LicenseAssignment.filter(pool__contract__company_id=company.id)
            .annotate(n=Count("id"))
            .group_by("pool_id")
            .values_list("pool_id", "n")
        )
        pools = await LicensePool.filter(contract__company_id=company.id).select_related("contract")
        for pool in sorted(pools, key=lambda row: row.id):
            total = self.new_totals.get(pool.id, pool.total)
            assigned = int(counts.get(pool.id, 0))
            if assigned > total:
                raise self.ctx.fail(
                    path,
                    f"the {pool.contract.product} {pool.kind} pool would hold {assigned} assigned "
                    f"licenses but only {total} in total: raise its total or assign fewer",
                )
            if (pool.total, pool.assigned) == (total, assigned):
                continue
            await LicensePool.filter(id=pool.id).update(total=total, assigned=assigned)
            if pool.total != total and pool.id in self.new_totals:
                await self._audit_pool(company, pool, total)

    async def _audit_pool(self, company: Company, pool: LicensePool, total: int) -> None:
        self.report.count(self.report.updated, "pool totals")
        await self.ctx.audit(
            company.id,
            "pool.total_adjusted",
            ("LicensePool", pool.id),
            {"kind": str(pool.kind), "totalBefore": pool.total, "totalAfter": total},
            contract_id=pool.contract_id,
        )

    async def _queue_masters(self, company: Company) -> None:
        """A master agreement for every contract without one, and for every adjusted one."""
        for contract in await Contract.filter(company_id=company.id).select_related("plan"):
            if contract.id in self.terms_changed or not await has_master_agreement(contract.id):
                await self._queue_master(company, contract)

    async def _queue_master(self, company: Company, contract: Contract) -> None:
        contracted = await LicensePool.get(contract_id=contract.id, kind=LicenseKind.CONTRACTED)
        self.masters_due.append(
            master_terms(
                company_name=company.name,
                company_email=company.email,
                contract=contract,
                plan=contract.plan,
                contracted=contracted.total,
            )
        )

    async def _reissue_for_adjusted_plans(self) -> None:
        """Contracts on a plan --adjust changed: their terms changed, so new agreements."""
        if not self.adjusted_plans:
            return
        contracts = await Contract.filter(plan_id__in=sorted(self.adjusted_plans)).select_related(
            "plan", "company"
        )
        queued = {terms.contract_id for terms in self.masters_due}
        for contract in sorted(contracts, key=lambda row: row.company_id):
            company = contract.company
            self._check_plan("$.plans", company, contract.plan, Product(contract.product))
            await data_version.changed(company.id)
            if contract.id not in queued:
                await self._queue_master(company, contract)
