"""What `licensing load` did, and what it left as the service has it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tortoise.models import Model

from services import audit
from services.audit import Actor
from services.errors import FixtureError

M = TypeVar("M", bound=Model)
OPERATOR = Actor(user_id=None, token_id=None)


@dataclass
class LoadReport:
    source: str
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    # What the file says otherwise, one line each: left as the service has it...
    differences: list[str] = field(default_factory=list)
    # ...or, with --adjust, applied as audited operator changes.
    adjusted: list[str] = field(default_factory=list)

    def count(self, bucket: dict[str, int], what: str) -> None:
        bucket[what] = bucket.get(what, 0) + 1

    def summary(self) -> str:
        parts = [f"created {n} {what}" for what, n in sorted(self.created.items())]
        parts += [f"updated {n} {what}" for what, n in sorted(self.updated.items())]
        return ", ".join(parts) or "nothing to change"

    def lines(self) -> list[str]:
        """What `licensing load` prints."""
        lines = [f"Loaded {self.source}: {self.summary()}.", *self.differences, *self.adjusted]
        if self.differences:
            lines.append(
                f"{len(self.differences)} difference(s) left as the service has them; "
                f"`licensing load --adjust {self.source}` applies them as operator changes."
            )
        if self.adjusted:
            lines.append(f"{len(self.adjusted)} operator change(s) applied and audited.")
        return lines


@dataclass
class LoadContext:
    """One load: where it comes from, when, whether it adjusts, and what it reports."""

    source: str
    now: dt.datetime
    adjust: bool
    report: LoadReport

    def fail(self, path: str, message: str) -> FixtureError:
        return FixtureError(f"{self.source}: {path}: {message}")

    def differ(self, path: str, what: str, current: object, in_file: object) -> bool:
        """Report a difference; True when --adjust applies it."""
        where = f"{self.source}: {path}: {what}"
        if self.adjust:
            self.report.adjusted.append(f"{where}: {current} -> {in_file} (adjusted)")
        else:
            self.report.differences.append(
                f"{where} is {current} here, the file says {in_file}: left as it is"
            )
        return self.adjust

    async def audit(
        self,
        company_id: int,
        action: str,
        subject: tuple[str, int],
        details: dict[str, Any],
        *,
        contract_id: int | None = None,
    ) -> None:
        """An operator's change, made by this file."""
        await audit.record(
            company_id=company_id,
            contract_id=contract_id,
            actor=OPERATOR,
            action=action,
            subject_type=subject[0],
            subject_id=subject[1],
            details={**details, "source": self.source},
            now=self.now,
        )

    async def upsert(
        self, model: type[M], lookup: dict[str, Any], values: dict[str, Any], what: str
    ) -> M:
        """Create or update by natural key (for what the operator owns)."""
        row = await model.filter(**lookup).first()
        if row is None:
            self.report.count(self.report.created, what)
            return await model.create(**lookup, **values)
        changed = {key: value for key, value in values.items() if getattr(row, key) != value}
        if changed:
            await model.filter(pk=row.pk).update(**changed)
            for key, value in changed.items():
                setattr(row, key, value)
            self.report.count(self.report.updated, what)
        return row
