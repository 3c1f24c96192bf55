"""The page behind the emailed link: GET shows the purchase, POST signs it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from licensing.settings import Settings
from licensing.views import purchase_view, templates
from services.errors import (
    ContractExpired,
    DomainError,
    PurchaseNotPending,
    QuoteChanged,
    SignatureTokenExpired,
    SignerNameRequired,
)
from services.purchases import signing

# Pages about links that cannot be used: gone for used, cancelled or expired, else not found.
_STATUS = {PurchaseNotPending: 410, SignatureTokenExpired: 410, ContractExpired: 410}
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    # Nothing from other hosts, and no framing: a page that signs must not be clickjacked.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def _page(status: int = 200, **context: Any) -> HTMLResponse:
    title = {"form": "Sign your license purchase", "signed": "Purchase signed"}.get(
        context["state"], "This link cannot be used"
    )
    html = templates.get_template("sign_page.html").render(title=title, **context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _unusable(error: DomainError) -> HTMLResponse:
    return _page(_STATUS.get(type(error), 404), state="unusable", error=error.message)


async def _form_context(token: str, now: dt.datetime) -> dict[str, Any]:
    request = await signing.signature_request(token=token, now=now)
    requester = request.purchase.requested_by
    # Licenses are billed from the day they are signed: the breakdown for today.
    quote = await signing.quote_as_of(
        purchase=request.purchase, company=request.company, today=now.date()
    )
    return {
        "v": purchase_view(
            company=request.company.name,
            requested_by=requester.name if requester else None,
            quote=quote,
        ),
        "expires": request.purchase.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        # Sent back with the form: what is signed is what was shown, or nothing.
        "shown": signing.quote_digest(quote),
    }


def sign_routes(settings: Settings) -> list[Route]:
    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            context = await _form_context(token, settings.clock.now())
        except DomainError as error:
            return _unusable(error)
        return _page(state="form", error=None, signer_name="", **context)

    async def sign(request: Request) -> Response:
        token = request.path_params["token"]
        form = await request.form()
        name = str(form.get("signer_name", ""))
        try:
            context = await _form_context(token, settings.clock.now())
            if form.get("agree") != "yes":
                raise SignerNameRequired("Tick “I agree” to sign.")
            await signing.sign_purchase(
                token=token,
                signer_name=name,
                ip=request.client.host if request.client else None,
                user_agent=request.headers.get("user-agent"),
                now=settings.clock.now(),
                shown=str(form.get("shown", "")),
            )
        except (SignerNameRequired, QuoteChanged) as error:
            context = await _form_context(token, settings.clock.now())
            return _page(422, state="form", error=error.message, signer_name=name, **context)
        except DomainError as error:
            return _unusable(error)
        return _page(state="signed", signer_name=" ".join(name.split()), **context)

    return [
        Route("/sign/{token}", show, methods=["GET"]),
        Route("/sign/{token}", sign, methods=["POST"]),
    ]
