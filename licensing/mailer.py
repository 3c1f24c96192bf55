"""Delivers the email outbox: a loop in every service process, safe to run several at once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib

from licensing.email_sender import EmailSender
from licensing.settings import Settings
from licensing.views import purchase_view, templates
from models.purchase import LicensePurchase, OutboxEmail
from services.purchases import outbox, signing
from services.purchases.pricing import Quote

logger = logging.getLogger(__name__)
EMAILS_PER_PASS = 20


def message_id(email_id: int, base_url: str) -> str:
    """Stable per outbox row: a re-send after a crash is recognisably the same email."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"<confirmation-{email_id}@{host}>"


def one_line(text: str) -> str:
    """A header holds one line: a name typed with a line break would make the email unsendable."""
    return " ".join(text.split())


def confirmation_message(
    *,
    purchase: LicensePurchase,
    quote: Quote,
    link: str,
    to_address: str,
    mail_from: str,
    message_id: str,
) -> EmailMessage:
    """`quote`: the breakdown for the day the email goes out (signing later bills from then)."""
    requester = purchase.requested_by.name if purchase.requested_by else None
    context = {
        "v": purchase_view(company=purchase.company.name, requested_by=requester, quote=quote),
        "link": link,
        "expires": purchase.expires_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = to_address
    message["Message-ID"] = message_id
    message["Subject"] = one_line(
        f"Please sign: {quote.quantity:,} {quote.kind.title()} {quote.product.title()} "
        f"licenses for {purchase.company.name}"
    )
    message.set_content(templates.get_template("confirmation_email.txt").render(context))
    message.add_alternative(
        templates.get_template("confirmation_email.html").render(context), subtype="html"
    )
    return message


class Mailer:
    def __init__(self, settings: Settings, sender: EmailSender) -> None:
        self.settings = settings
        self.sender = sender

    async def deliver_due(self) -> int:
        """One pass over the outbox; returns how many emails it attempted."""
        lease = dt.timedelta(seconds=self.settings.outbox_lease_seconds)
        for attempted in range(EMAILS_PER_PASS):
            email = await outbox.claim_next(now=self.settings.clock.now(), lease=lease)
            if email is None:
                return attempted
            await self._deliver(email)
        return EMAILS_PER_PASS

    async def _deliver(self, email: OutboxEmail) -> None:
        """One attempt. Whatever fails, before or during the send, counts as a failed attempt."""
        try:
            purchase = await self._purchase_of(email)
            reason = outbox.reason_to_drop(purchase, self.settings.clock.now())
            if reason is not None:
                await outbox.drop(email_id=email.id, company_id=purchase.company_id, reason=reason)
                return
            await self.sender.send(await self._message(email, purchase))
        except Exception as exc:
            await self._failed(email, exc)
            return
        await outbox.mark_sent(
            email_id=email.id, company_id=purchase.company_id, now=self.settings.clock.now()
        )
        logger.info("confirmation email %s for purchase %s sent", email.id, purchase.id)

    @staticmethod
    async def _purchase_of(email: OutboxEmail) -> LicensePurchase:
        return (
            await LicensePurchase.filter(id=email.purchase_id)
            .select_related("company", "requested_by", "contract")
            .get()
        )

    async def _message(self, email: OutboxEmail, purchase: LicensePurchase) -> EmailMessage:
        token = await signing.create_signature_token(
            purchase_id=purchase.id, now=self.settings.clock.now()
        )
        quote = await signing.quote_as_of(
            purchase=purchase, company=purchase.company, today=self.settings.clock.today()
        )
        return confirmation_message(
            purchase=purchase,
            quote=quote,
            link=f"{self.settings.public_base_url}/sign/{token}",
            to_address=email.to_address,
            mail_from=self.settings.mail_from,
            message_id=message_id(email.id, self.settings.public_base_url),
        )

    async def _failed(self, email: OutboxEmail, exc: Exception) -> None:
        settings = self.settings
        gave_up = await outbox.mark_failed(
            email=email,
            error=f"{type(exc).__name__}: {exc}",
            now=settings.clock.now(),
            retry_base=dt.timedelta(seconds=settings.outbox_retry_base_seconds),
            max_attempts=settings.outbox_max_attempts,
        )
        logger.warning(
            "confirmation email %s for purchase %s not sent (attempt %s%s): %s",
            email.id,
            email.purchase_id,
            email.attempts + 1,
            ", giving up" if gave_up else "",
            exc,
            exc_info=not isinstance(exc, (OSError, aiosmtplib.SMTPException)),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; a failing pass is logged and the loop goes on."""
        while not stop.is_set():
            try:
                if await self.deliver_due() == EMAILS_PER_PASS:
                    continue  # more may be due: keep up with purchases instead of waiting
            except Exception:
                logger.exception("outbox pass failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.outbox_poll_seconds)
