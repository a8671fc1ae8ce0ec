"""pipeline.oktopost.api against a stand-in Oktopost on 127.0.0.1: Basic auth, form bodies,
paging (pages counted from 0 as documented, and from 1 as a server might), and each failure as
the pollers' error that an instance's health reads."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.oktopost.api import PAGE_SIZE, OktopostAccount, OktopostClient
from pipeline.providers.errors import AuthError, ProviderResponseError, ProviderUnavailableError
from pipeline.web import json_response
from tests.support.processes import free_port

# How a stand-in numbers its pages: from 0 (Oktopost's documentation), from 1 with nothing on
# page 0, from 1 refusing page 0 (400), from 1 answering page 0 as page 1, or stuck answering the
# first page whatever is asked.
Numbering = Literal["from0", "from1", "from1-refusing-zero", "from1-zero-is-one", "stuck"]


@dataclass
class Oktopost:
    """`webhooks` served in pages; `status`/`body` override every answer when set."""

    webhooks: list[dict[str, Any]] = field(default_factory=list)
    numbering: Numbering = "from0"
    with_total: bool = True
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
            if page == 0 and self.numbering == "from1-refusing-zero":
                return json_response({"Result": False, "Errors": ["_page: 1 or more"]}, 400)
            answer: dict[str, Any] = {"Result": True, "Items": self.page(page, count)}
            if self.with_total:
                answer["Total"] = len(self.webhooks)
            return json_response(answer)
        if request.method == "POST" and request.path == "/v2/webhook":
            return json_response({"Result": True, "Webhook": {"Id": "w9", "Secret": "s3"}})
        return json_response({"Result": True})

    def page(self, page: int, count: int) -> list[dict[str, Any]]:
        index = {
            "from0": page,
            "from1": page - 1,
            "from1-refusing-zero": page - 1,
            "from1-zero-is-one": max(page, 1) - 1,
            "stuck": 0,
        }[self.numbering]
        return self.webhooks[index * count : (index + 1) * count] if index >= 0 else []

    def pages_asked(self) -> list[int]:
        return [int(query["_page"]) for _, _, query, _, _ in self.requests]


@pytest.fixture
def page_size() -> int:
    """The client's `_count`; tests parametrize 20 (Oktopost's default) to page sooner."""
    return PAGE_SIZE


@pytest.fixture
async def oktopost(page_size: int) -> AsyncIterator[tuple[Oktopost, OktopostClient]]:
    fake = Oktopost()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        account = OktopostAccount(str(server.make_url("")), "acc1", "key1")
        yield fake, OktopostClient(session, account, page_size=page_size)


async def test_webhooks_are_read_page_by_page_from_page_0_with_basic_auth(
    oktopost: tuple[Oktopost, OktopostClient],
) -> None:
    fake, client = oktopost
    fake.webhooks = [{"Id": f"w{n}"} for n in range(PAGE_SIZE + 5)]
    found = await client.webhooks()
    assert [w["Id"] for w in found.items] == [f"w{n}" for n in range(PAGE_SIZE + 5)]
    assert (found.total, found.complete) == (PAGE_SIZE + 5, True)
    assert [(r[1], r[2]["_page"], r[2]["_count"]) for r in fake.requests] == [
        ("/v2/webhook", "0", str(PAGE_SIZE)),
        ("/v2/webhook", "1", str(PAGE_SIZE)),
    ]
    assert {r[4] for r in fake.requests} == {"Basic " + base64.b64encode(b"acc1:key1").decode()}


# (numbering, webhooks, the pages read) with 20 a page: 19 fit on one page, 45 need three.
PAGINGS = [
    ("from0", 19, [0]),
    ("from0", 40, [0, 1]),
    ("from0", 45, [0, 1, 2]),
    ("from1", 19, [0, 1]),
    ("from1", 45, [0, 1, 2, 3]),
    ("from1-refusing-zero", 19, [0, 1]),
    ("from1-refusing-zero", 45, [0, 1, 2, 3]),
    ("from1-zero-is-one", 19, [0]),
    ("from1-zero-is-one", 45, [0, 1, 2, 3]),
]


@pytest.mark.parametrize("page_size", [20])
@pytest.mark.parametrize(("numbering", "count", "pages"), PAGINGS)
async def test_either_page_base_yields_every_webhook_once(
    oktopost: tuple[Oktopost, OktopostClient], numbering: Numbering, count: int, pages: list[int]
) -> None:
    fake, client = oktopost
    fake.numbering, fake.webhooks = numbering, [{"Id": f"w{n}"} for n in range(count)]
    found = await client.webhooks()
    assert [w["Id"] for w in found.items] == [f"w{n}" for n in range(count)]
    assert found.complete
    assert fake.pages_asked() == pages


@pytest.mark.parametrize("page_size", [20])
@pytest.mark.parametrize(("numbering", "pages"), [("from0", [0, 1, 2]), ("from1", [0, 1, 2, 3])])
async def test_without_a_total_a_short_page_ends_the_listing_unconfirmed(
    oktopost: tuple[Oktopost, OktopostClient], numbering: Numbering, pages: list[int]
) -> None:
    fake, client = oktopost
    fake.numbering, fake.with_total = numbering, False
    fake.webhooks = [{"Id": f"w{n}"} for n in range(45)]
    found = await client.webhooks()
    assert len(found.items) == 45
    assert (found.total, found.complete) == (None, False)
    assert fake.pages_asked() == pages


@pytest.mark.parametrize("page_size", [20])
async def test_a_server_repeating_one_page_ends_the_listing_incomplete(
    oktopost: tuple[Oktopost, OktopostClient],
) -> None:
    fake, client = oktopost
    fake.numbering, fake.webhooks = "stuck", [{"Id": f"w{n}"} for n in range(45)]
    found = await client.webhooks()
    assert [w["Id"] for w in found.items] == [f"w{n}" for n in range(20)]
    assert (found.total, found.complete) == (45, False)
    assert fake.pages_asked() == [0, 1, 2]


async def test_the_log_of_a_webhook_oktopost_lacks_is_empty(
    oktopost: tuple[Oktopost, OktopostClient],
) -> None:
    fake, client = oktopost
    fake.status = 404
    assert await client.log("gone") == []
    assert fake.pages_asked() == [0, 1]  # a 404 on page 0 could mean "count from 1"


async def test_only_oktopost_page_sizes_are_accepted() -> None:
    account = OktopostAccount("http://127.0.0.1:1", "acc1", "key1")
    async with aiohttp.ClientSession() as session:
        assert OktopostClient(session, account, page_size=20)
        with pytest.raises(ValueError, match="page_size"):
            OktopostClient(session, account, page_size=30)


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
