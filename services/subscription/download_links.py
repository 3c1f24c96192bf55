"""Short-lived signed URLs for document PDFs: no bearer token, an HMAC instead."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from services.errors import DownloadLinkExpired, DownloadLinkInvalid


def _signature(secret_key: str, document_id: int, expires: int) -> str:
    message = f"document:{document_id}:{expires}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def download_url(
    *, base_url: str, secret_key: str, document_id: int, now_ts: int, ttl_seconds: int
) -> str:
    expires = now_ts + ttl_seconds
    query = urlencode(
        {"expires": expires, "signature": _signature(secret_key, document_id, expires)}
    )
    return f"{base_url}/documents/{document_id}.pdf?{query}"


def verify_download(
    *, secret_key: str, document_id: int, expires: str | None, signature: str | None, now_ts: int
) -> None:
    """Raise unless the link was signed by this service for this document and is still valid."""
    if not expires or not signature or not expires.isdigit():
        raise DownloadLinkInvalid(
            "This download link is incomplete or has been altered. "
            "Open the contract documents again to get a fresh link."
        )
    expected = _signature(secret_key, document_id, int(expires))
    if not hmac.compare_digest(expected, signature):
        raise DownloadLinkInvalid(
            "This download link is not valid. "
            "Open the contract documents again to get a fresh link."
        )
    if int(expires) < now_ts:
        raise DownloadLinkExpired(
            "This download link has expired. Open the contract documents again to get a fresh link."
        )
