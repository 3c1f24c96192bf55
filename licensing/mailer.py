"""Delivers the email outbox: a loop in every service process, safe to run several at once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib

from licensing.email_sender import EmailSender
from licensing.settings import Settings
from licensing.views import purchase_view, renewal_view, templates
from models.contract import ContractTerm, LicensePool
from models.enums import LicenseKind, Product
from models.outbox import EmailKind, OutboxEmail
from models.purchase import LicensePurchase
from models.renewal import RenewalChange, RenewalChangeStatus
from models.webhook import WebhookEndpoint
from services.global_ids import encode_id
from services.purchases import outbox, signing
from services.purchases.pricing import Quote
from services.renewal import changes as renewal_changes
from services.renewal import signing as renewal_signing
from services.renewal.pricing import RenewalQuote
from services.renewal.terms import renewal_window

logger = logging.getLogger(__name__)
EMAILS_PER_PASS = 20


MESSAGE_ID_PREFIX = {
    EmailKind.PURCHASE_CONFIRMATION: "confirmation",
    EmailKind.RENEWAL_CONFIRMATION: "renewal-confirmation",
    EmailKind.SIGNATURE_REMINDER: "reminder",
    EmailKind.CONTRACT_RENEWED: "renewed",
    EmailKind.RENEWAL_WINDOW_OPEN: "renewal-window",
    EmailKind.WEBHOOK_ENDPOINT_DISABLED: "webhook-disabled",
}


def message_id(
    email_id: int, base_url: str, kind: EmailKind = EmailKind.PURCHASE_CONFIRMATION
) -> str:
    """Stable per outbox row: a re-send after a crash is recognisably the same email."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"<{MESSAGE_ID_PREFIX[kind]}-{email_id}@{host}>"


def _without_query(url: str) -> str:
    """A URL as an email may show it: a query string may hold a partner's key."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


def one_line(text: str) -> str:
    """A header holds one line: a name typed with a line break would make the email unsendable."""
    return " ".join(text.split())


def plain_message(
    *, mail_from: str, to_address: str, message_id: str, subject: str, text: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = to_address
    message["Message-ID"] = message_id
    message["Subject"] = one_line(subject)
    message.set_content(text)
    return message


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
    message = plain_message(
        mail_from=mail_from,
        to_address=to_address,
        message_id=message_id,
        subject=f"Please sign: {quote.quantity:,} {quote.kind.title()} {quote.product.title()} "
        f"licenses for {purchase.company.name}",
        text=templates.get_template("confirmation_email.txt").render(context),
    )
    message.add_alternative(
        templates.get_template("confirmation_email.html").render(context), subtype="html"
    )
    return message


@dataclass(frozen=True)
class Letter:
    """An email ready to send, or why it must not go out any more."""

    message: EmailMessage | None
    drop_reason: str | None = None


def renewed_message(
    *, term: ContractTerm, to_address: str, mail_from: str, message_id: str, window_days: int
) -> EmailMessage:
    """`term.contract` with its company and plan loaded."""
    contract = term.contract
    context = {
        "company": contract.company.name,
        "product": Product(contract.product).title(),
        "plan": contract.plan.name,
        "starts_on": term.starts_on.isoformat(),
        "expires_on": term.expires_on.isoformat(),
        "term_months": contract.term_months,
        "contracted": f"{term.contracted_licenses:,}",
        "window_days": window_days,
    }
    return plain_message(
        mail_from=mail_from,
        to_address=to_address,
        message_id=message_id,
        subject=f"Your {context['product']} contract renewed: {context['starts_on']} to "
        f"{context['expires_on']} ({contract.company.name})",
        text=templates.get_template("contract_renewed_email.txt").render(context),
    )


def _reminding(email: OutboxEmail) -> str:
    return "Reminder: " if email.kind == EmailKind.SIGNATURE_REMINDER else ""


async def window_message(
    term: ContractTerm, email: OutboxEmail, settings: Settings, message_id: str
) -> EmailMessage:
    """`term.contract` with its company and plan loaded: the term whose window opened."""
    contract = term.contract
    window = renewal_window(
        expires_on=contract.expires_on,
        term_months=contract.term_months,
        window_days=settings.renewal_window_days,
    )
    pool = await LicensePool.get(contract_id=contract.id, kind=LicenseKind.CONTRACTED)
    scheduled = await renewal_changes.scheduled_reduction(contract.id)
    product = Product(contract.product).title()
    context = {
        "company": contract.company.name,
        "product": product,
        "plan": contract.plan.name,
        "renews_on": window.renews_on.isoformat(),
        "next_expires_on": window.next_term_expires_on.isoformat(),
        "closes_on": window.closes_on.isoformat(),
        "term_months": contract.term_months,
        "contracted": f"{pool.total if scheduled is None else scheduled[1]:,}",
        "scheduled": scheduled is not None,
    }
    return plain_message(
        mail_from=settings.mail_from,
        to_address=email.to_address,
        message_id=message_id,
        subject=f"Your {product} contract renews on {window.renews_on.isoformat()}: "
        f"change its contracted licenses by {window.closes_on.isoformat()} "
        f"({contract.company.name})",
        text=templates.get_template("renewal_window_email.txt").render(context),
    )


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
        company_id = outbox.company_of(email)
        try:
            letter = await self._compose(email)
            if letter.message is None:
                reason = letter.drop_reason or "no longer needed"
                await outbox.drop(email_id=email.id, company_id=company_id, reason=reason)
                return
            await self.sender.send(letter.message)
        except Exception as exc:
            await self._failed(email, exc)
            return
        await outbox.mark_sent(
            email_id=email.id, company_id=company_id, now=self.settings.clock.now()
        )
        logger.info("%s email %s sent", email.kind, email.id)

    async def _compose(self, email: OutboxEmail) -> Letter:
        if email.kind == EmailKind.CONTRACT_RENEWED:
            return await self._contract_renewed(email)
        if email.kind == EmailKind.RENEWAL_WINDOW_OPEN:
            return await self._window_open(email)
        if email.kind == EmailKind.WEBHOOK_ENDPOINT_DISABLED:
            return await self._webhook_disabled(email)
        if email.renewal_change_id is not None:  # its confirmation, or a reminder
            return await self._renewal_confirmation(email)
        return await self._purchase_confirmation(email)

    def _message_id(self, email: OutboxEmail) -> str:
        return message_id(email.id, self.settings.public_base_url, email.kind)

    async def _purchase_confirmation(self, email: OutboxEmail) -> Letter:
        purchase = (
            await LicensePurchase.filter(id=email.purchase_id)
            .select_related("company", "requested_by", "contract")
            .get()
        )
        reason = outbox.reason_to_drop(purchase, self.settings.clock.now())
        if reason is not None:
            return Letter(None, reason)
        token = await signing.create_signature_token(
            purchase_id=purchase.id, now=self.settings.clock.now()
        )
        quote = await signing.quote_as_of(
            purchase=purchase, company=purchase.company, today=self.settings.clock.today()
        )
        message = confirmation_message(
            purchase=purchase,
            quote=quote,
            link=f"{self.settings.public_base_url}/sign/{token}",
            to_address=email.to_address,
            mail_from=self.settings.mail_from,
            message_id=self._message_id(email),
        )
        if email.kind == EmailKind.SIGNATURE_REMINDER:
            message.replace_header("Subject", _reminding(email) + str(message["Subject"]))
        return Letter(message)

    async def _renewal_confirmation(self, email: OutboxEmail) -> Letter:
        change = (
            await RenewalChange.filter(id=email.renewal_change_id)
            .select_related("company", "requested_by")
            .get()
        )
        now = self.settings.clock.now()
        if renewal_changes.effective_status(change, now) != RenewalChangeStatus.PENDING_SIGNATURE:
            return Letter(None, "the renewal change no longer awaits a signature")
        token = await renewal_signing.create_signature_token(change_id=change.id, now=now)
        requester = change.requested_by.name if change.requested_by else None
        view = renewal_view(
            company=change.company.name,
            requested_by=requester,
            quote=RenewalQuote.from_json(change.quote),
        )
        context = {
            "v": view,
            "link": f"{self.settings.public_base_url}/sign/{token}",
            "expires": change.expires_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
        return Letter(
            plain_message(
                mail_from=self.settings.mail_from,
                to_address=email.to_address,
                message_id=self._message_id(email),
                subject=f"{_reminding(email)}Please sign: {view.product} renewal with "
                f"{view.contracted} contracted licenses for {view.company}",
                text=templates.get_template("renewal_confirmation_email.txt").render(context),
            )
        )

    async def _window_open(self, email: OutboxEmail) -> Letter:
        term = (
            await ContractTerm.filter(id=email.contract_term_id)
            .select_related("contract__company", "contract__plan")
            .get()
        )
        contract = term.contract
        today = self.settings.clock.today()
        if not contract.auto_renews or contract.expires_on < today:
            return Letter(None, "the contract no longer renews at the end of this term")
        if term.expires_on != contract.expires_on:
            return Letter(None, "the term whose window opened has ended")
        return Letter(await window_message(term, email, self.settings, self._message_id(email)))

    async def _webhook_disabled(self, email: OutboxEmail) -> Letter:
        endpoint = (
            await WebhookEndpoint.filter(id=email.webhook_endpoint_id)
            .select_related("company")
            .get()
        )
        if endpoint.enabled:
            return Letter(None, "the endpoint was enabled again")
        context = {
            "company": endpoint.company.name,
            "url": _without_query(endpoint.url),
            "reason": endpoint.disabled_reason or "it stopped answering",
            "endpoint_id": encode_id("WebhookEndpoint", endpoint.id),
        }
        return Letter(
            plain_message(
                mail_from=self.settings.mail_from,
                to_address=email.to_address,
                message_id=self._message_id(email),
                subject=f"Webhooks stopped: {urlsplit(endpoint.url).hostname} "
                f"({endpoint.company.name})",
                text=templates.get_template("webhook_disabled_email.txt").render(context),
            )
        )

    async def _contract_renewed(self, email: OutboxEmail) -> Letter:
        term = (
            await ContractTerm.filter(id=email.contract_term_id)
            .select_related("contract__company", "contract__plan")
            .get()
        )
        return Letter(
            renewed_message(
                term=term,
                to_address=email.to_address,
                mail_from=self.settings.mail_from,
                message_id=self._message_id(email),
                window_days=self.settings.renewal_window_days,
            )
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
            "%s email %s not sent (attempt %s%s): %s",
            email.kind,
            email.id,
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
