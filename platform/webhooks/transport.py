"""The HTTP POST of a delivery: stdlib only, no proxies, no redirects, bounded time.

It connects only to an address that `check_webhook_url` approved for this delivery, never to a fresh DNS
answer (a rebinding host could answer the check with a public address and a second lookup with
127.0.0.1). HTTP and TLS still address the URL's host: the Host header names it, and TLS sends it as SNI
and verifies the certificate against it. No proxy is ever used (the environment's included): the address
we checked must be the address we connect to.
"""

import functools
import http.client
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from webhooks.url_safety import WebhookTarget

USER_AGENT = "task-platform-webhooks/1"
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class PostOutcome:
    status: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@functools.cache
def _default_tls_context() -> ssl.SSLContext:
    """The system's trusted CAs with hostname checking; built once, since loading the CAs costs more than
    a delivery, and shared by threads (an SSLContext is safe to share)."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def _connect_pinned(target: WebhookTarget, timeout: float | None) -> socket.socket:
    """A TCP connection to the first checked address that accepts, as socket.create_connection would try
    a DNS answer in order, but without asking DNS again."""
    last_error: OSError | None = None
    for resolved in target.addresses:
        sock = socket.socket(resolved.family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(resolved.sockaddr)
        except OSError as error:
            sock.close()
            last_error = error
            continue
        return sock
    raise last_error or OSError(f"No address to connect to for {target.host}.")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """http.client sends `Host: <host>[:<port>]` from the host and port it was given: the URL's, not the
    address it connects to."""

    def __init__(self, target: WebhookTarget, *, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._target = target

    def connect(self) -> None:
        self.sock = _connect_pinned(self._target, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: WebhookTarget, *, timeout: float, tls_context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=tls_context)
        self._target = target
        self._tls_context = tls_context

    def connect(self) -> None:
        sock = _connect_pinned(self._target, self.timeout)
        try:
            # SNI and the certificate check use the URL's host, whatever address we reached it at.
            self.sock = self._tls_context.wrap_socket(sock, server_hostname=self._target.host)
        except BaseException:
            sock.close()
            raise


def post(
    *,
    target: WebhookTarget,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    tls_context: ssl.SSLContext | None = None,
) -> PostOutcome:
    """POST `body` to the checked target; `tls_context` defaults to the system's CAs (tests bring theirs)."""
    parts = urlsplit(target.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(
            target, timeout=timeout, tls_context=tls_context or _default_tls_context()
        )
    else:
        connection = _PinnedHTTPConnection(target, timeout=timeout)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Connection": "close",
                **headers,
            },
        )
        response = connection.getresponse()
        response.read(MAX_ANSWER_BYTES)  # let the receiver finish; we keep nothing of it
    except (OSError, http.client.HTTPException) as error:
        return PostOutcome(status=None, error=f"{type(error).__name__}: {error}")
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return PostOutcome(status=response.status, error="")
    # Redirects included: one is never followed (it could lead inward), so it is a failed delivery.
    return PostOutcome(status=response.status, error=f"HTTP {response.status} {response.reason}")
