"""What the operators' metrics read from the database: the email and webhook backlogs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from models.outbox import EmailStatus, OutboxEmail
from models.webhook import DeliveryStatus, WebhookDelivery, WebhookEndpoint

WAITING_DELIVERIES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


@dataclass(frozen=True)
class Backlogs:
    emails_waiting: int
    oldest_email_age_seconds: float
    emails_failed: int
    deliveries_waiting: int
    deliveries_due: int
    oldest_delivery_age_seconds: float
    endpoints_disabled: int


def _age(oldest: dt.datetime | None, now: dt.datetime) -> float:
    return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0


async def backlogs(now: dt.datetime) -> Backlogs:
    """Counts of the whole database (all companies), as of `now`.

    Deliveries to disabled endpoints wait for the endpoint to be enabled again: they are no
    sender's backlog and are left out.
    """
    emails = OutboxEmail.filter(status=EmailStatus.QUEUED)
    deliveries = WebhookDelivery.filter(status__in=WAITING_DELIVERIES, endpoint__enabled=True)
    oldest_email = await emails.order_by("created_at").first()
    oldest_delivery = await deliveries.order_by("created_at").first()
    return Backlogs(
        emails_waiting=await emails.count(),
        oldest_email_age_seconds=_age(oldest_email.created_at if oldest_email else None, now),
        emails_failed=await OutboxEmail.filter(status=EmailStatus.FAILED).count(),
        deliveries_waiting=await deliveries.count(),
        deliveries_due=await deliveries.filter(next_attempt_at__lte=now).count(),
        oldest_delivery_age_seconds=_age(
            oldest_delivery.created_at if oldest_delivery else None, now
        ),
        endpoints_disabled=await WebhookEndpoint.filter(enabled=False).count(),
    )
