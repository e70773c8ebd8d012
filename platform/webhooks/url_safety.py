"""Refuse webhook URLs that would make our servers call into private networks (SSRF).

Checked when a webhook is saved and again before every delivery (DNS can change in between). Every
address the host resolves to must be public; loopback, private, link-local (cloud metadata lives at
169.254.169.254), shared, reserved and multicast ranges are refused unless WEBHOOKS_ALLOW_PRIVATE_URLS
(on in development and tests). Redirects are never followed, so a public URL cannot bounce us inward.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeUrlError(ValueError):
    pass


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeUrlError(f"The host {host!r} does not resolve ({error}).") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        addresses.append(address)
    return addresses


def check_webhook_url(url: str, *, allow_private: bool | None = None) -> None:
    """Raise UnsafeUrlError with a reason a person can act on, or return when the URL may be called."""
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
    for address in _addresses(parts.hostname, port):
        if address.is_multicast or address.is_unspecified:
            raise UnsafeUrlError(f"The host resolves to {address}, which cannot receive webhooks.")
        if not allow_private and not address.is_global:
            raise UnsafeUrlError(
                f"The host resolves to {address}, a loopback, private or link-local address; "
                "webhooks may only call public addresses."
            )
