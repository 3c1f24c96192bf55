"""How emails leave the service: SMTP through aiosmtplib, or the log when no SMTP is set."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from licensing.settings import Settings

logger = logging.getLogger(__name__)


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        settings = self.settings
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls or None,
            timeout=30,
        )


class LogSender:
    """For demos and development: the plain-text part, link included, goes to the log."""

    async def send(self, message: EmailMessage) -> None:
        text = message.get_body(("plain",))
        body = text.get_content() if isinstance(text, EmailMessage) else ""
        logger.warning(
            "SMTP_HOST is not set, so this email was logged instead of sent.\n"
            "To: %s\nSubject: %s\n\n%s",
            message["To"],
            message["Subject"],
            body,
        )


def sender_for(settings: Settings) -> EmailSender:
    return SmtpSender(settings) if settings.smtp_host else LogSender()
