"""The fixture file format (see fixture.example.json), validated with JSON paths in errors."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from models.enums import LicenseKind, Product, Role
from services.errors import FixtureError
from services.money import is_known_currency

NonNegative = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


def _known_currency(code: str) -> str:
    if not is_known_currency(code):
        raise ValueError(f"{code} is not an ISO 4217 currency code (e.g. GBP, EUR, USD)")
    return code


Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_known_currency)]


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, strict=True, frozen=True
    )


class PlanSpec(_Strict):
    name: Text
    product: Product
    storage_allowance_per_license_bytes: NonNegative
    prices: dict[LicenseKind, NonNegative]
    currency: Currency

    @model_validator(mode="after")
    def _every_kind_priced(self) -> PlanSpec:
        missing = [str(kind) for kind in LicenseKind if kind not in self.prices]
        if missing:
            raise ValueError(f"prices needs a price for {', '.join(missing)}")
        return self


class ContractSpec(_Strict):
    product: Product
    plan: Text
    starts_on: dt.date
    expires_on: dt.date
    pools: dict[LicenseKind, NonNegative] = Field(default_factory=dict)
    used_bytes: NonNegative | None = None

    @model_validator(mode="after")
    def _term_in_order(self) -> ContractSpec:
        if self.expires_on < self.starts_on:
            raise ValueError("expiresOn is before startsOn")
        return self


class UserSpec(_Strict):
    name: Text
    email: Email
    role: Role
    licenses: dict[Product, LicenseKind] = Field(default_factory=dict)


class CompanySpec(_Strict):
    name: Text
    email: Email
    tax_rate_basis_points: Annotated[int, Field(ge=0, le=10000)]
    currency: Currency
    contracts: list[ContractSpec] = Field(default_factory=list)
    users: list[UserSpec] = Field(default_factory=list)


class FixtureSpec(_Strict):
    plans: list[PlanSpec] = Field(default_factory=list)
    companies: list[CompanySpec] = Field(default_factory=list)


def json_path(location: tuple[int | str, ...]) -> str:
    path = "$"
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_fixture(source: str, text: str) -> FixtureSpec:
    """Parse and validate; a FixtureError names the file, the JSON path and what is wrong."""
    try:
        return FixtureSpec.model_validate_json(text)
    except ValidationError as exc:
        problems = [
            f"{source}: {json_path(tuple(error['loc']))}: {error['msg']}" for error in exc.errors()
        ]
        raise FixtureError("\n".join(problems)) from None
