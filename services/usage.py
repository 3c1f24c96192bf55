"""Storage allowance and usage, by the contract's rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from models.enums import LicenseKind

# Kinds whose licenses grant storage; DAILY grants none.
STORAGE_GRANTING_KINDS = (LicenseKind.CONTRACTED, LicenseKind.MONTHLY)


@dataclass(frozen=True)
class Usage:
    used_bytes: int
    allowance_bytes: int

    @property
    def percent_used(self) -> float:
        """used / allowance x 100, half up to one decimal, not capped."""
        if self.allowance_bytes == 0:
            return 0.0 if self.used_bytes == 0 else 100.0
        percent = Decimal(self.used_bytes * 100) / Decimal(self.allowance_bytes)
        return float(percent.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.used_bytes + other.used_bytes, self.allowance_bytes + other.allowance_bytes
        )


def allowance_bytes(per_license_bytes: int, totals: dict[LicenseKind, int]) -> int:
    """Allowance per license x (CONTRACTED total + MONTHLY total)."""
    return per_license_bytes * sum(totals.get(kind, 0) for kind in STORAGE_GRANTING_KINDS)


def combined(usages: Iterable[Usage]) -> Usage:
    """Company-wide usage: the allowance is one pool across contracts."""
    return sum(usages, Usage(0, 0))
