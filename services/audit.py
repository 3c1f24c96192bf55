"""The audit trail: who changed what, with the counts before and after."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from models.audit import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a user through a token, or an operator (both None)."""

    user_id: int | None
    token_id: int | None


async def record(
    *,
    company_id: int,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: int,
    details: dict[str, Any],
    now: dt.datetime,
    contract_id: int | None = None,
) -> None:
    """Write one event; call it inside the transaction that makes the change."""
    await AuditEvent.create(
        company_id=company_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        contract_id=contract_id,
        actor_user_id=actor.user_id,
        actor_token_id=actor.token_id,
        details=details,
        created_at=now,
    )
