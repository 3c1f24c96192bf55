"""Where a webhook may be sent: https URLs whose every address is public (no SSRF).

The host is resolved once per check and each address tested; the caller then connects to one of
those very addresses, so a name that changes its answer between check and use (DNS rebinding)
cannot slip through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from urllib.parse import SplitResult, urlsplit

from services.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses it resolves to. Injectable: tests resolve names without DNS.
Resolver = Callable[[str, int], Awaitable[list[str]]]
MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_SECONDS = 5.0


class WebhookUrlNotAllowed(DomainError):
    code = "WEBHOOK_URL_NOT_ALLOWED"


@dataclass(frozen=True)
class AddressPolicy:
    """The SSRF rules; `allowed_networks` and `allow_http` relax them for tests only."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    allow_http: bool = False


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to one of `addresses` (in order), send `host_header`, expect
    TLS for `host`."""

    url: SplitResult
    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        default_port = 443 if self.url.scheme == "https" else 80
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == default_port else f"{shown}:{self.port}"

    def address_url(self, address: IPAddress) -> str:
        """The URL with a checked address in place of the host name."""
        literal = f"[{address}]" if address.version == 6 else str(address)
        path = self.url.path or "/"
        query = f"?{self.url.query}" if self.url.query else ""
        return f"{self.url.scheme}://{literal}:{self.port}{path}{query}"


# Lookups run on threads of their own: a lookup that outlives its timeout keeps its thread
# busy (getaddrinfo cannot be cancelled), and must not take the threads other work needs.
_LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook-dns")


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    lookup = partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
        found = await loop.run_in_executor(_LOOKUPS, lookup)
    # IPv4 first: a server without an IPv6 route still reaches a dual-stack endpoint.
    return sorted({str(info[4][0]) for info in found}, key=lambda text: ":" in text)


def _refuse(message: str) -> WebhookUrlNotAllowed:
    return WebhookUrlNotAllowed(message, field="url")


def parse_url(raw: str, policy: AddressPolicy) -> SplitResult:
    """The URL's parts, if its form is acceptable (scheme, no credentials, a host, a port)."""
    url = raw.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise _refuse(f"Enter the endpoint's URL, at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse(
            "This is not a valid URL: enter one like https://example.com/hooks."
        ) from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise _refuse("Webhook URLs must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise _refuse(
            "Webhook URLs may not carry a user name or password: verify requests by their "
            "signature instead."
        )
    if not parts.hostname:
        raise _refuse("The URL has no host name: enter one like https://example.com/hooks.")
    _ascii_host(parts.hostname)
    if port == 0:
        raise _refuse("The URL's port must be from 1 to 65535.")
    return parts._replace(fragment="")


# IPv6 ranges that reach IPv4 or local networks, whatever this Python's is_global says of them.
_REFUSED_IPV6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/96",  # IPv4-compatible (deprecated)
        "::ffff:0:0:0/96",  # IPv4-translated
        "64:ff9b:1::/48",  # local-use NAT64
        "fec0::/10",  # site-local (deprecated)
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """An IPv4 address carried inside an IPv6 one (mapped, NAT64, 6to4, Teredo), to be judged
    too."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_public(address: IPAddress) -> bool:
    """Not private, loopback, link-local, carrier-grade NAT, multicast, reserved or unspecified
    (Python's is_global covers all but multicast), nor an IPv6 wrapper of such an IPv4 one."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _REFUSED_IPV6):
            return False
        embedded = _embedded_ipv4(address)
        return embedded is None or is_public(embedded)
    return True


def allowed(address: IPAddress, policy: AddressPolicy) -> bool:
    return is_public(address) or any(address in network for network in policy.allowed_networks)


async def _addresses(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = await resolver(host, port)
    except (OSError, TimeoutError):
        found = []
    if not found:
        raise _refuse(f"The host name {host} does not resolve: check the URL.")
    # getaddrinfo may add a scope to link-local IPv6 answers ("fe80::1%eth0").
    return [ipaddress.ip_address(each.split("%", 1)[0]) for each in found]


def _ascii_host(hostname: str) -> str:
    """The name as DNS, the Host header and TLS spell it (IDNA for names like exämple.com)."""
    try:
        ipaddress.ip_address(hostname)
        return hostname
    except ValueError:
        pass
    try:
        return hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise _refuse("The URL's host name is not valid: check its spelling.") from None


async def check(raw_url: str, policy: AddressPolicy, resolver: Resolver) -> Target:
    """The URL resolved and checked: every address it resolves to must be allowed."""
    url = parse_url(raw_url, policy)
    host = _ascii_host(url.hostname or "")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await _addresses(host, port, resolver)
    if not all(allowed(address, policy) for address in addresses):
        # Which address is not said: registering URLs must not map an internal network.
        raise _refuse(
            f"{host} is, or resolves to, a private, loopback or link-local address: webhooks "
            "go only to public addresses."
        )
    return Target(url=url, host=host, port=port, addresses=tuple(addresses))
