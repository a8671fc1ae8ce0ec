"""SSRF at connect time: the delivery client connects to the addresses it checked, nothing else.

A rebinding DNS server answers a public address to one lookup and a loopback one to the next; the
client resolves once per connection, so whatever it connects to is what passed the check. A real
HTTP(S) server on 127.0.0.1 stands for the internal service the rebinding tries to reach.
"""

from __future__ import annotations

import datetime
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pipeline.config.subscriptions import create_subscription
from pipeline.delivery.attempt import attempt
from pipeline.delivery.errors import DestinationRefusedError
from pipeline.delivery.outcome import OutcomeKind
from pipeline.delivery.sender import Sender
from pipeline.delivery.tasks import new_task
from pipeline.settings import load_settings

PUBLIC = "93.184.215.14"  # a globally routable address: passes the check
EVENT = {"id": "e1", "type": "post.sent", "source": "/instances/i", "subject": "posts/1"}


class Answers(AbstractResolver):
    """A DNS server under the attacker's control: each lookup gets the next answer in line."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        addresses = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


@dataclass
class Internal:
    """The loopback service an attacker wants to reach; counts what reached it."""

    port: int = 0
    hits: int = 0
    paths: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        self.paths.append(request.path)
        return web.Response(text="internal")


async def _serve(state: Internal, context: ssl.SSLContext | None = None) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/{tail:.*}", state.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    state.port = runner.addresses[0][1]
    return runner


@pytest.fixture
async def internal() -> AsyncIterator[Internal]:
    state = Internal()
    runner = await _serve(state)
    yield state
    await runner.cleanup()


async def _attempt_twice(url: str, resolver: Answers) -> list[OutcomeKind]:
    subscription = create_subscription({"name": "n", "url": url})
    settings = load_settings(allow_private_destinations=False, delivery_timeout=1)
    kinds = []
    async with Sender(resolver=resolver) as sender:
        for _ in range(2):
            task = new_task(subscription.id, EVENT, reason="live")
            outcome, record = await attempt(task, subscription, sender, settings)
            kinds.append(outcome.kind)
            if outcome.kind is OutcomeKind.REFUSED:
                assert record.error == (
                    "destination refused: loopback_address: "
                    "host 'rebind.test' resolves to 127.0.0.1"
                )
    return kinds


async def test_a_rebinding_answer_never_reaches_loopback(internal: Internal) -> None:
    resolver = Answers([PUBLIC], ["127.0.0.1"])
    kinds = await _attempt_twice(f"http://rebind.test:{internal.port}/hook", resolver)
    # The public answer was connected to (and failed: nothing listens there); the loopback answer,
    # the very next lookup, was refused before any connection.
    assert kinds == [OutcomeKind.RETRY, OutcomeKind.REFUSED]
    assert resolver.asked == ["rebind.test", "rebind.test"]  # one lookup per attempt
    assert internal.hits == 0


async def test_one_bad_address_in_an_answer_refuses_the_host(internal: Internal) -> None:
    resolver = Answers([PUBLIC, "127.0.0.1"])
    kinds = await _attempt_twice(f"http://rebind.test:{internal.port}/hook", resolver)
    assert kinds == [OutcomeKind.REFUSED, OutcomeKind.REFUSED]
    assert internal.hits == 0


@pytest.mark.parametrize(
    "address", ["10.0.0.7", "169.254.169.254", "::1", "::ffff:127.0.0.1", "fe80::1%1"]
)
async def test_the_sender_raises_a_refusal_for_a_private_answer(address: str) -> None:
    async with Sender(resolver=Answers([address])) as sender:
        with pytest.raises(DestinationRefusedError):
            await sender.post("http://rebind.test/", b"{}", {}, timeout=1)


async def test_the_connection_goes_to_the_resolved_address(internal: Internal) -> None:
    # The control: with private destinations allowed the same resolver leads to the loopback
    # service, so the refusals above are the guard's doing, not a failed lookup.
    async with Sender(resolver=Answers(["127.0.0.1"]), allow_private=True) as sender:
        status, _, error, _ = await sender.post(
            f"http://rebind.test:{internal.port}/hook", b"{}", {}, timeout=5
        )
    assert (status, error) == (200, None)
    assert internal.paths == ["/hook"]


async def test_a_numeric_spelling_of_loopback_is_refused_before_connecting(
    internal: Internal,
) -> None:
    for host in ("2130706433", "0x7f.1", "127.1", "017700000001"):
        subscription = create_subscription({"name": "n", "url": f"http://{host}:{internal.port}/"})
        settings = load_settings(allow_private_destinations=False, delivery_timeout=1)
        async with Sender(resolver=Answers(["127.0.0.1"])) as sender:
            task = new_task(subscription.id, EVENT, reason="live")
            outcome, _ = await attempt(task, subscription, sender, settings)
        assert outcome.kind is OutcomeKind.REFUSED, host
    assert internal.hits == 0


def _certificate(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for `name`, and a client trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_tls_is_verified_against_the_host_name_not_the_address(tmp_path: Path) -> None:
    server_context, client_context = _certificate(tmp_path, "hook.test")
    state = Internal()
    runner = await _serve(state, server_context)
    try:
        resolver = Answers(["127.0.0.1"])
        async with Sender(resolver=resolver, allow_private=True, ssl=client_context) as sender:
            ok = await sender.post(f"https://hook.test:{state.port}/a", b"{}", {}, timeout=5)
            wrong = await sender.post(f"https://other.test:{state.port}/b", b"{}", {}, timeout=5)
    finally:
        await runner.cleanup()
    assert ok[:1] == (200,)
    assert (wrong[0], wrong[2]) == (None, "tls handshake failed")
    assert state.paths == ["/a"]
