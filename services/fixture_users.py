"""The fixture's users and the licenses they hold (see services/fixtures.py for the rules)."""

from __future__ import annotations

from models.audit import AuditEvent
from models.company import Company
from models.contract import LicensePool
from models.enums import LicenseKind, Product
from models.user import LicenseAssignment, User
from services.fixture_format import UserSpec
from services.fixture_report import LoadContext


async def deleted_emails(company_id: int) -> set[str]:
    """Users deleted through the service: a reload must not bring them back."""
    events = await AuditEvent.filter(company_id=company_id, action="user.deleted").only(
        "id", "details"
    )
    details = [event.details for event in events]
    return {str(entry.get("email")) for entry in details if isinstance(entry, dict)}


async def load_user(
    ctx: LoadContext, path: str, company: Company, spec: UserSpec, deleted: set[str]
) -> None:
    existing = await User.get_or_none(email=spec.email)
    if existing is not None and existing.company_id != company.id:
        raise ctx.fail(f"{path}.email", f"{spec.email} belongs to another company")
    if (
        existing is None
        and spec.email in deleted
        and not ctx.differ(path, f"user {spec.email}", "deleted through the service", "listed")
    ):
        return
    user = await ctx.upsert(
        User,
        {"email": spec.email},
        {"name": spec.name, "role": spec.role, "company_id": company.id},
        "users",
    )
    if existing is None and spec.email in deleted:
        await ctx.audit(company.id, "user.restored", ("User", user.id), {"email": spec.email})
    for product, kind in spec.licenses.items():
        await _load_license(
            ctx,
            f"{path}.licenses.{product}",
            company,
            user,
            product,
            kind,
            new_user=existing is None,
        )


async def _load_license(
    ctx: LoadContext,
    path: str,
    company: Company,
    user: User,
    product: Product,
    kind: LicenseKind,
    *,
    new_user: bool,
) -> None:
    pool = await LicensePool.filter(
        contract__company_id=company.id, contract__product=product, kind=kind
    ).first()
    if pool is None:
        raise ctx.fail(path, f"the company has no {product} contract")
    held = (
        await LicenseAssignment.filter(user_id=user.id, product=product)
        .select_related("pool")
        .first()
    )
    if held is not None and held.pool_id == pool.id:
        return
    if not new_user:
        current = held.pool.kind if held else "none"
        if not ctx.differ(path, f"{user.name}'s {product} license", current, kind):
            return
    if held is None:
        await LicenseAssignment.create(
            user_id=user.id, pool_id=pool.id, product=product, assigned_at=ctx.now
        )
    else:
        await LicenseAssignment.filter(id=held.id).update(pool_id=pool.id, assigned_at=ctx.now)
    ctx.report.count(ctx.report.created if new_user else ctx.report.updated, "license assignments")
    if not new_user:
        await ctx.audit(
            company.id,
            "license.switched" if held else "license.assigned",
            ("User", user.id),
            {
                "product": str(product),
                "kind": str(kind),
                "fromPoolId": held.pool_id if held else None,
                "toPoolId": pool.id,
            },
            contract_id=pool.contract_id,
        )
