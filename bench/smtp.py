"""A real SMTP server (aiosmtpd) on localhost that keeps what arrives."""

from __future__ import annotations

import asyncio
import email
import re
import socket
import threading
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Keep:
    def __init__(self, inbox: list[EmailMessage]) -> None:
        self.inbox = inbox
        self.refusals = 0
        self.refusing = False
        # While held, a message's DATA is answered only once `gate` opens (a slow server).
        self.gate: threading.Event | None = None
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.gate is not None:
            self.arrived.set()
            await asyncio.to_thread(self.gate.wait)
        if self.refusing:
            self.refusals += 1
            return "554 5.7.1 Message refused (test server in refusing mode)"
        message = email.message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.inbox.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.inbox: list[EmailMessage] = []
        self._handler = _Keep(self.inbox)
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def refuse_everything(self) -> None:
        """Answer every message with a permanent 554, as a mail server that rejects us would."""
        self._handler.refusing = True

    def hold(self) -> None:
        """Keep the next messages waiting for their answer until `release`."""
        self._handler.gate = threading.Event()

    async def until_a_message_is_held(self, within: float = 10.0) -> None:
        arrived = await asyncio.to_thread(self._handler.arrived.wait, within)
        assert arrived, f"no message reached the SMTP server within {within:g} s"

    def release(self) -> None:
        if self._handler.gate is not None:
            self._handler.gate.set()

    @property
    def refusals(self) -> int:
        return self._handler.refusals

    def stop(self) -> None:
        self.release()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def wait_for(self, count: int, within: float = 10.0) -> list[EmailMessage]:
        deadline = asyncio.get_running_loop().time() + within
        while len(self.inbox) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.inbox)} of {count} emails arrived in time")
            await asyncio.sleep(0.02)
        return list(self.inbox)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def signature_token(message: EmailMessage, base_url: str) -> str:
    found = re.search(re.escape(base_url) + r"/sign/([\w-]+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


def shown_quote(page_html: str) -> str:
    """The digest of the breakdown a signature page shows, which its form sends back."""
    found = re.search(r'name="shown" value="([0-9a-f]{64})"', page_html)
    assert found, "the page shows no breakdown to sign"
    return found.group(1)
