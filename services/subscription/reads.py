"""Reads of a company's contracts, pools, usage and documents, always scoped by company."""

from __future__ import annotations

from collections.abc import Sequence

from models.contract import Contract, LicensePool, StorageUsage
from models.enums import PRODUCT_ORDER
from services.errors import NotFound


async def contracts_for_company(company_id: int) -> list[Contract]:
    """The company's contracts with their plans, JOBS first."""
    rows = await Contract.filter(company_id=company_id).select_related("plan")
    return sorted(rows, key=lambda row: PRODUCT_ORDER.index(row.product))


async def contract_of_company(*, company_id: int, contract_id: int, field: str) -> Contract:
    """A contract of this company; another company's reads exactly like an unknown id."""
    row = (
        await Contract.filter(id=contract_id, company_id=company_id).select_related("plan").first()
    )
    if row is None:
        raise NotFound(
            "No contract has this id. Reload the subscription to get current ids.", field=field
        )
    return row


async def pools_for_contracts(contract_ids: Sequence[int]) -> list[LicensePool]:
    return await LicensePool.filter(contract_id__in=list(contract_ids))


async def used_bytes_for_contracts(contract_ids: Sequence[int]) -> dict[int, int]:
    rows = await StorageUsage.filter(contract_id__in=list(contract_ids)).values_list(
        "contract_id", "used_bytes"
    )
    return {int(contract_id): int(used) for contract_id, used in rows}
