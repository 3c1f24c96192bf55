"""The page behind the emailed link: GET shows the purchase (or renewal change), POST signs it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from licensing.settings import Settings
from licensing.views import purchase_view, renewal_view, templates
from services.errors import (
    ContractExpired,
    DomainError,
    LicensesAssigned,
    PurchaseNotPending,
    QuoteChanged,
    RenewalChangeNotOpen,
    SignatureTokenExpired,
    SignerNameRequired,
)
from services.purchases import signing
from services.renewal import signing as renewal_signing

RENEWAL_PAGE = "sign_renewal_page.html"

# Pages about links that cannot be used: gone for used, cancelled or expired, else not found.
_STATUS = {
    PurchaseNotPending: 410,
    RenewalChangeNotOpen: 410,
    SignatureTokenExpired: 410,
    ContractExpired: 410,
}
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    # Nothing from other hosts, and no framing: a page that signs must not be clickjacked.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}


_TITLES = {
    "sign_page.html": {"form": "Sign your license purchase", "signed": "Purchase signed"},
    "sign_renewal_page.html": {"form": "Sign your contract renewal", "signed": "Renewal signed"},
}


def _page(status: int = 200, template: str = "sign_page.html", **context: Any) -> HTMLResponse:
    title = _TITLES[template].get(context["state"], "This link cannot be used")
    html = templates.get_template(template).render(title=title, **context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _unusable(error: DomainError, template: str = "sign_page.html") -> HTMLResponse:
    status = _STATUS.get(type(error), 404)
    return _page(status, template, state="unusable", error=error.message)


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


async def _renewal_context(token: str, now: dt.datetime) -> dict[str, Any]:
    request = await renewal_signing.signature_request(token=token, now=now)
    requester = request.change.requested_by
    return {
        "template": RENEWAL_PAGE,
        "v": renewal_view(
            company=request.company.name,
            requested_by=requester.name if requester else None,
            quote=request.quote,
        ),
        "expires": request.change.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
    }


async def _show_renewal(token: str, now: dt.datetime) -> Response:
    try:
        context = await _renewal_context(token, now)
    except DomainError as error:
        return _unusable(error, RENEWAL_PAGE)
    return _page(state="form", error=None, signer_name="", **context)


async def _sign_renewal(request: Request, token: str, now: dt.datetime) -> Response:
    form = await request.form()
    name = str(form.get("signer_name", ""))
    try:
        context = await _renewal_context(token, now)
        if form.get("agree") != "yes":
            raise SignerNameRequired("Tick “I agree” to sign.")
        await renewal_signing.sign_renewal_change(
            token=token,
            signer_name=name,
            signer_ip=request.client.host if request.client else None,
            signer_user_agent=request.headers.get("user-agent"),
            now=now,
        )
    except (SignerNameRequired, LicensesAssigned) as error:
        # Nothing was signed and the link still works: say what to do, keep the form.
        status = 409 if isinstance(error, LicensesAssigned) else 422
        try:
            context = await _renewal_context(token, now)
        except DomainError as gone:  # superseded or expired meanwhile
            return _unusable(gone, RENEWAL_PAGE)
        return _page(status, state="form", error=error.message, signer_name=name, **context)
    except DomainError as error:
        return _unusable(error, RENEWAL_PAGE)
    return _page(state="signed", signer_name=" ".join(name.split()), **context)


def sign_routes(settings: Settings) -> list[Route]:
    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        if await renewal_signing.is_renewal_token(token):
            return await _show_renewal(token, settings.clock.now())
        try:
            context = await _form_context(token, settings.clock.now())
        except DomainError as error:
            return _unusable(error)
        return _page(state="form", error=None, signer_name="", **context)

    async def sign(request: Request) -> Response:
        token = request.path_params["token"]
        if await renewal_signing.is_renewal_token(token):
            return await _sign_renewal(request, token, settings.clock.now())
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
            try:
                context = await _form_context(token, settings.clock.now())
            except DomainError as gone:  # signed, cancelled or expired meanwhile
                return _unusable(gone)
            return _page(422, state="form", error=error.message, signer_name=name, **context)
        except DomainError as error:
            return _unusable(error)
        return _page(state="signed", signer_name=" ".join(name.split()), **context)

    return [
        Route("/sign/{token}", show, methods=["GET"]),
        Route("/sign/{token}", sign, methods=["POST"]),
    ]
