"""Rows by id for `node` and `nodes`, one query per type, always within one company."""

from __future__ import annotations

from tortoise.queryset import QuerySet

from models.contract import Contract, LicensePool
from models.document import ContractDocument
from models.purchase import LicensePurchase
from models.user import User


def users(company_id: int, ids: list[int]) -> QuerySet[User]:
    return User.filter(id__in=ids, company_id=company_id)


def contracts(company_id: int, ids: list[int]) -> QuerySet[Contract]:
    return Contract.filter(id__in=ids, company_id=company_id).select_related("plan")


def pools(company_id: int, ids: list[int]) -> QuerySet[LicensePool]:
    return LicensePool.filter(id__in=ids, contract__company_id=company_id).select_related(
        "contract__plan"
    )


def documents(company_id: int, ids: list[int]) -> QuerySet[ContractDocument]:
    return ContractDocument.filter(id__in=ids, contract__company_id=company_id).only(
        "id", "contract_id", "kind", "title", "signed_at"
    )


def purchases(company_id: int, ids: list[int]) -> QuerySet[LicensePurchase]:
    return LicensePurchase.filter(id__in=ids, company_id=company_id)
