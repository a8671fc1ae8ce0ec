"""pipeline.oktopost.api against a stand-in Oktopost on 127.0.0.1: Basic auth, form bodies,
paging, and each failure as the pollers' error that an instance's health reads."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.oktopost.api import PAGE_SIZE, OktopostAccount, OktopostClient
from pipeline.providers.errors import AuthError, ProviderResponseError, ProviderUnavailableError
from pipeline.web import json_response
from tests.support.processes import free_port


@dataclass
class Oktopost:
    """`webhooks` served in pages; `status`/`body` override every answer when set."""

    webhooks: list[dict[str, Any]] = field(default_factory=list)
    status: int | None = None
    body: bytes | None = None
    requests: list[tuple[str, str, dict[str, str], dict[str, str], str]] = field(
        default_factory=list
    )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.requests.append(
            (request.method, request.path, dict(request.query), form,
             request.headers.get("Authorization", ""))
        )  # fmt: skip
        if self.status is not None or self.body is not None:
            return web.Response(status=self.status or 200, body=self.body or b"")
        if request.method == "GET":
            page, count = int(request.query["_page"]), int(request.query["_count"])
            items = self.webhooks[(page - 1) * count : page * count]
            return json_response({"Result": True, "Items": items, "Total": len(self.webhooks)})
        if request.method == "POST" and request.path == "/v2/webhook":
            return json_response({"Result": True, "Webhook": {"Id": "w9", "Secret": "s3"}})
        return json_response({"Result": True})


@pytest.fixture
async def oktopost() -> AsyncIterator[tuple[Oktopost, OktopostClient]]:
    fake = Oktopost()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        account = OktopostAccount(str(server.make_url("")), "acc1", "key1")
        yield fake, OktopostClient(session, account)


async def test_webhooks_are_read_page_by_page_with_basic_auth(
    oktopost: tuple[Oktopost, OktopostClient],
) -> None:
    fake, client = oktopost
    fake.webhooks = [{"Id": f"w{n}"} for n in range(PAGE_SIZE + 5)]
    found = await client.webhooks()
    assert [w["Id"] for w in found] == [f"w{n}" for n in range(PAGE_SIZE + 5)]
    assert [(r[1], r[2]["_page"]) for r in fake.requests] == [
        ("/v2/webhook", "1"),
        ("/v2/webhook", "2"),
    ]
    assert {r[4] for r in fake.requests} == {"Basic " + base64.b64encode(b"acc1:key1").decode()}


async def test_create_posts_a_form_and_returns_the_webhook_with_its_secret(
    oktopost: tuple[Oktopost, OktopostClient],
) -> None:
    fake, client = oktopost
    webhook = await client.create("postSent", "n", "https://in.example/h", "d")
    assert webhook == {"Id": "w9", "Secret": "s3"}
    [(method, path, _, form, _)] = fake.requests
    assert (method, path) == ("POST", "/v2/webhook")
    assert form == {
        "event": "postSent",
        "name": "n",
        "url": "https://in.example/h",
        "description": "d",
        "isEnabled": "1",
    }


async def test_a_missing_webhook_is_deleted_already(
    oktopost: tuple[Oktopost, OktopostClient],
) -> None:
    fake, client = oktopost
    fake.status = 404
    await client.delete("gone")  # 404 on delete: nothing left to do
    assert fake.requests[0][:2] == ("DELETE", "/v2/webhook/gone")
    with pytest.raises(ProviderResponseError, match="HTTP 404"):
        await client.update("gone", {"name": "x"})


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (401, b"", AuthError, "account id or api key refused"),
        (403, b"", AuthError, "HTTP 403"),
        (503, b"", ProviderUnavailableError, "HTTP 503"),
        (200, b"<html>", ProviderResponseError, "body is not JSON"),
        (200, b'{"Result": false}', ProviderResponseError, "Result is not true"),
        (200, b'{"Result": true, "Items": [1]}', ProviderResponseError, "Items is not a list"),
    ],
)
async def test_each_failure_is_the_pollers_error(
    oktopost: tuple[Oktopost, OktopostClient],
    status: int,
    body: bytes,
    error: type[Exception],
    message: str,
) -> None:
    fake, client = oktopost
    fake.status, fake.body = status, body
    with pytest.raises(error, match=message) as raised:
        await client.log("w1")
    assert "key1" not in str(raised.value)


async def test_a_create_answer_without_a_secret_is_refused(
    oktopost: tuple[Oktopost, OktopostClient],
) -> None:
    fake, client = oktopost
    fake.body = b'{"Result": true, "Webhook": {"Id": "w1"}}'
    with pytest.raises(ProviderResponseError, match="no Webhook with a Secret"):
        await client.create("postSent", "n", "https://in.example/h", "d")


async def test_an_unreachable_oktopost_is_unavailable() -> None:
    account = OktopostAccount(f"http://127.0.0.1:{free_port()}", "acc1", "key1")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ProviderUnavailableError, match="GET /v2/webhook"):
            await OktopostClient(session, account).webhooks()
    assert "key1" not in repr(account)
