"""A delivery connects to the address its URL check approved, never to a second DNS answer (rebinding).

Real sockets and real local receivers (plain and TLS). What is faked is the edge of the machine: the
resolver (`socket.getaddrinfo`, so a name can answer differently from one lookup to the next, as a
rebinding attacker's DNS does) and, in one test, the route to a public address (so no packet leaves for
the Internet).
"""

import errno
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from accounts.models import Role, User
from tenancy.models import Tenant
from tests.jobs.helpers import in_tenant
from webhooks import services, transport
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.signing import SIGNATURE_HEADER, verify
from webhooks.url_safety import UnsafeUrlError, check_webhook_url

PUBLIC = "93.184.216.34"
REAL_GETADDRINFO = socket.getaddrinfo


class FakeDns:
    """Answers lookups of the names given to `answer`, one answer per lookup in order, the last one
    repeating; other names resolve for real. `lookups` lists the faked names looked up."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def answer(self, host: str, *answers: list[str]) -> None:
        self.answers[host] = list(answers)
        self.lookups.clear()

    def __call__(
        self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        if host not in self.answers:
            return REAL_GETADDRINFO(host, port, family, type, proto, flags)
        self.lookups.append(host)
        queue = self.answers[host]
        ips = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port), 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port)))
            for ip in ips
        ]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)  # the SNI of each TLS handshake


@contextmanager
def receiver_on_loopback(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """An HTTP(S) endpoint on 127.0.0.1 that answers 200 and keeps every request."""
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {name.lower(): value for name, value in self.headers.items()}
            state.requests.append(Received(path=self.path, headers=headers, body=body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    if tls is not None:
        tls.sni_callback = lambda _sock, name, _context: state.server_names.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_on_loopback() as state:
        yield state


@dataclass
class Deliveries:
    tenant: Tenant
    admin: User

    def pending(self, url: str) -> WebhookDelivery:
        """A webhook for the URL (saving it runs the URL check) with one delivery not tried yet."""
        with in_tenant(self.tenant):
            webhook = services.create_webhook(url=url, event_types=["task.created"], created_by=self.admin)
            return WebhookDelivery.objects.create(
                webhook=webhook, event_id=1, event_type="task.created", body='{"event_type":"task.created"}'
            )

    def attempt(self, delivery: WebhookDelivery) -> WebhookDelivery:
        """One attempt, as the delivery job makes it; returns the delivery row as the attempt left it."""
        with in_tenant(self.tenant):
            with suppress(services.WebhookDeliveryFailedError):  # the job would retry; the row says why
                services.attempt_delivery(delivery_id=delivery.delivery_id)
            delivery.refresh_from_db()
            return delivery


@pytest.fixture
def deliveries(tenant: Tenant, make_user: Callable[..., User]) -> Deliveries:
    return Deliveries(tenant=tenant, admin=make_user(tenant=tenant, role=Role.ADMIN))


@pytest.fixture
def public_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every address a socket connects to, in order. Connections to PUBLIC are refused here, as a receiver
    that is down would refuse them, so the test sends nothing to the Internet; the rest go through."""
    connected: list[tuple[Any, ...]] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address: Any) -> None:
        connected.append(tuple(address))
        if address[0] == PUBLIC:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return connected


def test_a_host_that_rebinds_to_loopback_after_the_check_is_never_called_there(
    dns: FakeDns,
    public_network: list[tuple[Any, ...]],
    receiver: Receiver,
    deliveries: Deliveries,
    settings: Any,
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    url = f"http://rebind.example.test:{receiver.port}/hook"
    dns.answer("rebind.example.test", [PUBLIC])
    pending = deliveries.pending(url)
    # The attacker's DNS: a public address for the first lookup of the delivery, loopback for any after it.
    dns.answer("rebind.example.test", [PUBLIC], ["127.0.0.1"])

    delivery = deliveries.attempt(pending)

    assert dns.lookups == ["rebind.example.test"]  # resolved once for the delivery
    assert (PUBLIC, receiver.port) in public_network
    assert ("127.0.0.1", receiver.port) not in public_network
    assert receiver.requests == []
    assert delivery.status == DeliveryStatus.PENDING and delivery.response_status is None
    assert delivery.last_error.startswith("ConnectionRefusedError")


def test_a_host_that_resolves_to_loopback_at_delivery_time_is_refused_before_any_connection(
    dns: FakeDns,
    public_network: list[tuple[Any, ...]],
    receiver: Receiver,
    deliveries: Deliveries,
    settings: Any,
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    dns.answer("moved.example.test", [PUBLIC])
    pending = deliveries.pending(f"http://moved.example.test:{receiver.port}/hook")
    dns.answer("moved.example.test", [PUBLIC, "169.254.169.254"])  # one bad answer among good ones is enough

    delivery = deliveries.attempt(pending)

    assert delivery.last_error == (
        "Refused: The host resolves to 169.254.169.254, a loopback, private or link-local address; "
        "webhooks may only call public addresses."
    )
    assert public_network == [] and receiver.requests == []


def test_a_delivery_goes_to_the_checked_address_and_names_the_urls_host(
    dns: FakeDns, receiver: Receiver, deliveries: Deliveries, settings: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True  # the receiver is on loopback
    dns.answer("hooks.example.test", ["127.0.0.1"])
    pending = deliveries.pending(f"http://hooks.example.test:{receiver.port}/hooks/in?source=tests")
    secret = pending.webhook.secret
    # Checked at 127.0.0.1; a second lookup would say 127.0.0.2, where nothing listens.
    dns.answer("hooks.example.test", ["127.0.0.1"], ["127.0.0.2"])

    delivery = deliveries.attempt(pending)

    assert dns.lookups == ["hooks.example.test"]
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.response_status == 200
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example.test:{receiver.port}"
    assert request.path == "/hooks/in?source=tests"
    assert verify(secret=secret, body=request.body, header_value=request.headers[SIGNATURE_HEADER.lower()])


def test_the_next_checked_address_is_tried_when_one_does_not_answer(dns: FakeDns, receiver: Receiver) -> None:
    dns.answer("two.example.test", ["127.0.0.2", "127.0.0.1"])  # nothing listens on 127.0.0.2
    target = check_webhook_url(f"http://two.example.test:{receiver.port}/hook", allow_private=True)

    outcome = transport.post(target=target, body=b"{}", headers={}, timeout=5)

    assert outcome == transport.PostOutcome(status=200, error="")
    assert [request.headers["host"] for request in receiver.requests] == [f"two.example.test:{receiver.port}"]


def test_the_check_returns_every_address_it_approved(dns: FakeDns) -> None:
    dns.answer("many.example.test", [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.35"])

    target = check_webhook_url("https://many.example.test/hook", allow_private=False)

    assert (target.scheme, target.host, target.port) == ("https", "many.example.test", 443)
    assert [str(resolved.address) for resolved in target.addresses] == [
        PUBLIC, "2606:2800:220:1:248:1893:25c8:1946", "93.184.216.35",
    ]  # fmt: skip
    assert target.addresses[1].family == socket.AF_INET6
    dns.answer("many.example.test", [PUBLIC, "::ffff:127.0.0.1"])
    with pytest.raises(UnsafeUrlError, match=r"127\.0\.0\.1,"):
        check_webhook_url("https://many.example.test/hook", allow_private=False)


# TLS: a test CA, and a certificate it signed for hooks.example.test only (no IP address in it).


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    # The certificates come from the openssl command (Debian's openssl package): without it these tests
    # fail rather than skip.
    assert shutil.which("openssl"), "the https tests need the openssl command to make a test certificate"
    folder = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (folder / "leaf.ext").write_text(
        "subjectAltName=DNS:hooks.example.test\nbasicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    for argv in (
        ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA"],
        ["req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=hooks.example.test"],
        ["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
         "-days", "2", "-extfile", "leaf.ext", "-out", "leaf.pem"],
    ):  # fmt: skip
        subprocess.run(["openssl", *argv], cwd=folder, check=True, capture_output=True)
    return Pki(ca=folder / "ca.pem", cert=folder / "leaf.pem", key=folder / "leaf.key")


@pytest.fixture
def tls_receiver(pki: Pki) -> Iterator[Receiver]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert, pki.key)
    with receiver_on_loopback(tls=context) as state:
        yield state


@pytest.fixture
def trusting_test_ca(pki: Pki) -> ssl.SSLContext:
    """What the default context is (system CAs, hostname checked), trusting the test CA instead."""
    return ssl.create_default_context(cafile=str(pki.ca))


def test_https_goes_to_the_checked_address_with_the_urls_host_for_sni_and_the_certificate(
    dns: FakeDns, tls_receiver: Receiver, trusting_test_ca: ssl.SSLContext
) -> None:
    dns.answer("hooks.example.test", ["127.0.0.1"], ["127.0.0.2"])
    target = check_webhook_url(f"https://hooks.example.test:{tls_receiver.port}/hook", allow_private=True)

    outcome = transport.post(target=target, body=b"{}", headers={}, timeout=5, tls_context=trusting_test_ca)

    assert outcome == transport.PostOutcome(status=200, error="")
    assert dns.lookups == ["hooks.example.test"]
    assert tls_receiver.server_names == ["hooks.example.test"]
    [request] = tls_receiver.requests
    assert request.headers["host"] == f"hooks.example.test:{tls_receiver.port}"


@pytest.mark.parametrize(
    ("host", "trust_test_ca", "reason"),
    [
        # The same server reached under another name: its certificate is checked against the URL's host.
        ("other.example.test", True, "Hostname mismatch"),
        # The default context trusts the system's CAs, not ours.
        ("hooks.example.test", False, "unable to get local issuer certificate"),
    ],
)
def test_https_refuses_a_certificate_it_cannot_verify_for_the_urls_host(
    dns: FakeDns,
    tls_receiver: Receiver,
    trusting_test_ca: ssl.SSLContext,
    host: str,
    trust_test_ca: bool,
    reason: str,
) -> None:
    dns.answer(host, ["127.0.0.1"])
    target = check_webhook_url(f"https://{host}:{tls_receiver.port}/hook", allow_private=True)

    outcome = transport.post(
        target=target,
        body=b"{}",
        headers={},
        timeout=5,
        tls_context=trusting_test_ca if trust_test_ca else None,
    )

    assert outcome.status is None
    assert outcome.error.startswith("SSLCertVerificationError") and reason in outcome.error
    assert tls_receiver.server_names == [host] and tls_receiver.requests == []
