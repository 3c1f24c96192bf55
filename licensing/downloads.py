"""`GET /documents/{id}.pdf`: the signed, short-lived links of `ContractDocument.downloadUrl`."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from licensing.settings import Settings
from services.errors import DomainError, DownloadLinkExpired, NotFound
from services.subscription import documents
from services.subscription.download_links import verify_download


def _slug(title: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in title).split()) or "document"


def content_disposition(title: str) -> str:
    """RFC 6266: an ASCII `filename` for old clients, the real one in UTF-8 as `filename*`.

    A header value is Latin-1 on the wire: "Łukasz" in a plain `filename` would fail.
    """
    name = _slug(title)
    ascii_name = _slug(unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode())
    return f"inline; filename=\"{ascii_name}.pdf\"; filename*=UTF-8''{quote(name + '.pdf')}"


def download_route(settings: Settings) -> Route:
    async def download(request: Request) -> Response:
        document_id = int(request.path_params["document_id"])
        try:
            verify_download(
                secret_key=settings.secret_key,
                document_id=document_id,
                expires=request.query_params.get("expires"),
                signature=request.query_params.get("signature"),
                now_ts=int(settings.clock.now().timestamp()),
            )
            title, pdf = await documents.document_pdf(document_id)
        except DownloadLinkExpired as exc:
            return PlainTextResponse(exc.message, status_code=410)
        except NotFound as exc:
            return PlainTextResponse(exc.message, status_code=404)
        except DomainError as exc:
            return PlainTextResponse(exc.message, status_code=403)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": content_disposition(title),
                "Cache-Control": "private, max-age=60",
            },
        )

    return Route("/documents/{document_id:int}.pdf", download, methods=["GET"])
