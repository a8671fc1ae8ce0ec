from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from pipeline.delivery.sender import Sender, parsed_url

CHUNK = b"x" * 65536


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records what reached it."""

    base: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    peer_ports: set[int] = field(default_factory=set)
    last_body: bytes = b""
    last_headers: dict[str, str] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def record(self, request: web.Request) -> None:
        self.hits[request.path] += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer is not None:
            self.peer_ports.add(peer[1])
        self.last_body = await request.read()
        self.last_headers = {key.lower(): value for key, value in request.headers.items()}

    async def ok(self, request: web.Request) -> web.Response:
        await self.record(request)
        return web.Response(text="ok")

    async def status(self, request: web.Request) -> web.Response:
        await self.record(request)
        code = int(request.match_info["code"])
        headers = {"Retry-After": "7"} if code == 429 else {}
        return web.Response(status=code, headers=headers)

    async def hang(self, request: web.Request) -> web.Response:
        await self.record(request)
        await self.release.wait()
        return web.Response(text="late")

    async def redirect(self, request: web.Request) -> web.Response:
        await self.record(request)
        return web.Response(status=302, headers={"Location": "/ok"})

    async def endless(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        response = web.StreamResponse()
        await response.prepare(request)
        # Streams until the client hangs up (the write then fails) or the test ends.
        with contextlib.suppress(ConnectionError):
            while not self.release.is_set():
                await response.write(CHUNK)
        return response


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/ok", state.ok)
    app.router.add_post("/status/{code}", state.status)
    app.router.add_post("/hang", state.hang)
    app.router.add_post("/redirect", state.redirect)
    app.router.add_post("/endless", state.endless)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.base = f"http://{host}:{port}"
    yield state
    state.release.set()
    await runner.cleanup()


@pytest.fixture
async def sender() -> AsyncIterator[Sender]:
    async with Sender(limit=10, limit_per_host=5) as started:
        yield started


async def test_success_sends_body_and_headers(receiver: Receiver, sender: Sender) -> None:
    headers = {"webhook-id": "msg_1", "content-type": "application/cloudevents+json"}
    status, response_headers, error, duration = await sender.post(
        f"{receiver.base}/ok", b'{"a":1}', headers, timeout=5
    )
    assert (status, error) == (200, None)
    assert response_headers["content-type"].startswith("text/plain")
    assert duration > 0
    assert receiver.last_body == b'{"a":1}'
    assert receiver.last_headers["webhook-id"] == "msg_1"
    assert receiver.last_headers["content-type"] == "application/cloudevents+json"


async def test_a_subscribers_url_is_parsed_once_for_all_its_attempts(
    receiver: Receiver, sender: Sender
) -> None:
    url = f"{receiver.base}/ok?token=t1"
    parsed_url.cache_clear()
    for _ in range(3):
        result = await sender.post(url, b"{}", {}, timeout=5)
        assert result.status == 200
    assert (parsed_url.cache_info().misses, parsed_url.cache_info().hits) == (1, 2)
    assert receiver.hits["/ok"] == 3


@pytest.mark.parametrize("code", [500, 410, 400])
async def test_error_statuses_are_returned_not_raised(
    receiver: Receiver, sender: Sender, code: int
) -> None:
    status, _, error, _ = await sender.post(f"{receiver.base}/status/{code}", b"{}", {}, timeout=5)
    assert (status, error) == (code, None)


async def test_retry_after_header_is_returned(receiver: Receiver, sender: Sender) -> None:
    status, headers, error, _ = await sender.post(f"{receiver.base}/status/429", b"", {}, timeout=5)
    assert (status, error) == (429, None)
    assert headers["retry-after"] == "7"


async def test_hanging_subscriber_times_out(receiver: Receiver, sender: Sender) -> None:
    status, headers, error, duration = await sender.post(
        f"{receiver.base}/hang", b"{}", {}, timeout=0.3
    )
    assert status is None
    assert headers == {}
    assert error == "timeout after 0.3s"
    assert duration >= 0.29
    assert receiver.hits["/hang"] == 1


async def test_closed_port_is_connection_refused(sender: Sender) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, _, error, _ = await sender.post(f"http://127.0.0.1:{port}/", b"", {}, timeout=5)
    assert status is None
    assert error == "connection refused"


async def test_invalid_url_is_an_error_not_an_exception(sender: Sender) -> None:
    status, _, error, _ = await sender.post("/relative/only", b"", {}, timeout=5)
    assert status is None
    assert error == "invalid url"


async def test_redirect_is_not_followed(receiver: Receiver, sender: Sender) -> None:
    status, headers, error, _ = await sender.post(f"{receiver.base}/redirect", b"", {}, timeout=5)
    assert (status, error) == (302, None)
    assert headers["location"] == "/ok"
    assert receiver.hits["/ok"] == 0


async def test_endless_response_body_is_cut_off(receiver: Receiver, sender: Sender) -> None:
    # Reading the whole body would never finish and end in a timeout instead.
    status, _, error, _ = await sender.post(f"{receiver.base}/endless", b"", {}, timeout=5)
    assert (status, error) == (200, None)


async def test_sequential_posts_reuse_one_connection(receiver: Receiver, sender: Sender) -> None:
    for _ in range(5):
        status, _, _, _ = await sender.post(f"{receiver.base}/ok", b"{}", {}, timeout=5)
        assert status == 200
    assert receiver.hits["/ok"] == 5
    assert len(receiver.peer_ports) == 1


async def test_post_before_start_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="start"):
        await Sender().post("http://127.0.0.1:1/", b"", {}, timeout=1)
