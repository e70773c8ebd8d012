"""Refuse webhook URLs that would make our servers call into private networks (SSRF).

Checked when a webhook is saved and again before every delivery (DNS can change in between). Every
address the host resolves to must be public; loopback, private, link-local (cloud metadata lives at
169.254.169.254), shared, reserved and multicast ranges are refused unless WEBHOOKS_ALLOW_PRIVATE_URLS
(on in development and tests). Redirects are never followed, so a public URL cannot bounce us inward.

The check returns the addresses it approved, and a delivery connects to one of those (`transport.post`)
instead of resolving the host again: otherwise a DNS-rebinding host could answer the check with a public
address and the connection, a moment later, with 127.0.0.1 or 169.254.169.254.
"""

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrlError(ValueError):
    pass


@dataclass(frozen=True)
class ResolvedAddress:
    """One answer of the resolver: the address as judged, and the socket address to connect to."""

    address: IPAddress  # an IPv4-mapped IPv6 answer is judged as the IPv4 address it stands for
    family: socket.AddressFamily
    sockaddr: tuple[Any, ...]  # as getaddrinfo gave it: an IPv6 answer keeps its scope id


@dataclass(frozen=True)
class WebhookTarget:
    """A URL that passed the checks, pinned to the addresses its host resolved to during the check."""

    url: str
    scheme: str
    host: str  # what the receiver is called: the Host header, TLS SNI and the certificate check use it
    port: int
    addresses: tuple[ResolvedAddress, ...]  # every one checked; connect only to these


def _resolve(host: str, port: int) -> tuple[ResolvedAddress, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeUrlError(f"The host {host!r} does not resolve ({error}).") from None
    resolved = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        resolved.append(ResolvedAddress(address=address, family=family, sockaddr=tuple(sockaddr)))
    if not resolved:
        raise UnsafeUrlError(f"The host {host!r} does not resolve (no address).")
    return tuple(resolved)


def check_webhook_url(url: str, *, allow_private: bool | None = None) -> WebhookTarget:
    """Raise UnsafeUrlError with a reason a person can act on, or return the URL with the addresses that
    may be called. Resolves the host once, now: a delivery calls this right before it connects."""
    if allow_private is None:
        allow_private = bool(settings.WEBHOOKS_ALLOW_PRIVATE_URLS)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrlError("The URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeUrlError("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeUrlError("Credentials in the URL are not allowed; receivers check the signature instead.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrlError("The URL has an invalid port.") from None
    resolved = _resolve(parts.hostname, port)
    for answer in resolved:
        address = answer.address
        if address.is_multicast or address.is_unspecified:
            raise UnsafeUrlError(f"The host resolves to {address}, which cannot receive webhooks.")
        if not allow_private and not address.is_global:
            raise UnsafeUrlError(
                f"The host resolves to {address}, a loopback, private or link-local address; "
                "webhooks may only call public addresses."
            )
    return WebhookTarget(url=url, scheme=parts.scheme, host=parts.hostname, port=port, addresses=resolved)
