"""OAuth onboarding: the consent URL, and the authorization code exchanged for tokens before an
instance is stored (a token endpoint on 127.0.0.1 plays the provider)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.config.cloud_elements import AuthorizationCode
from pipeline.ingress.admin.oauth import CodeRefusedError, api_base_url, exchange_code
from pipeline.web import json_response
from tests.support.processes import free_port
from tests.unit.ingress.admin_support import Admin, serving


@dataclass
class TokenEndpoint:
    """`POST /oauth2/token`: answers `status` and `answer`; remembers each request."""

    status: int = 200
    answer: Any = field(
        default_factory=lambda: {"access_token": "at-1", "refresh_token": "rt-1", "x": 1}
    )
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def token(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.seen.append((request.headers.get("Authorization", ""), form))
        if isinstance(self.answer, bytes):
            return web.Response(body=self.answer, status=self.status)
        return json_response(self.answer, self.status)


@pytest.fixture
async def provider() -> AsyncIterator[tuple[TokenEndpoint, str]]:
    endpoint = TokenEndpoint()
    app = web.Application()
    app.router.add_post("/oauth2/token", endpoint.token)
    async with TestServer(app, host="127.0.0.1") as server:
        yield endpoint, str(server.make_url("")).rstrip("/")


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    async with serving() as admin:
        yield admin


async def test_the_code_is_exchanged_with_basic_auth_for_the_tokens(
    provider: tuple[TokenEndpoint, str],
) -> None:
    endpoint, base = provider
    code = AuthorizationCode("the-code", "https://app.example.com/back")
    tokens = await exchange_code(base, "cid", "csecret", code)
    assert tokens == {"access_token": "at-1", "refresh_token": "rt-1"}
    [(authorization, form)] = endpoint.seen
    assert authorization == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert form == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://app.example.com/back",
    }


async def test_without_a_redirect_uri_none_is_sent(provider: tuple[TokenEndpoint, str]) -> None:
    endpoint, base = provider
    await exchange_code(base, "cid", "csecret", AuthorizationCode("c", None))
    assert "redirect_uri" not in endpoint.seen[0][1]


@pytest.mark.parametrize(
    ("status", "answer", "provider_error"),
    [
        (400, {"error": "invalid_grant", "error_description": "used"}, "invalid_grant"),
        (401, {"errors": [{"code": 401}]}, [{"code": 401}]),
        (200, {"token_type": "bearer"}, None),  # a 200 without an access token
        (502, b"<html>bad gateway</html>", None),
    ],
)
async def test_a_refusal_is_code_refused_with_the_providers_error(
    provider: tuple[TokenEndpoint, str], status: int, answer: Any, provider_error: Any
) -> None:
    endpoint, base = provider
    endpoint.status, endpoint.answer = status, answer
    with pytest.raises(CodeRefusedError) as refused:
        await exchange_code(base, "cid", "csecret", AuthorizationCode("c", None))
    assert str(refused.value) == f"the provider refused the code: HTTP {status}"
    assert refused.value.provider_error == provider_error
    assert refused.value.code == "code_refused"


async def test_an_unreachable_token_endpoint_is_code_refused() -> None:
    base = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CodeRefusedError, match="could not be reached") as refused:
        await exchange_code(base, "cid", "csecret", AuthorizationCode("c", None))
    assert refused.value.provider_error is None


def test_api_base_url_prefers_the_instance_then_polling_then_the_real_one() -> None:
    assert api_base_url("https://a.example/", {"api_base_url": "https://b"}) == "https://a.example"
    assert api_base_url(None, {"api_base_url": "https://b.example/"}) == "https://b.example"
    assert api_base_url(None, {}).startswith("https://")


def _hootsuite_body(base: str, code: str = "the-code") -> dict[str, Any]:
    return {
        "id": "hs1",
        "element": {"key": "hootsuite"},
        "providerData": {"code": code},
        "api_base_url": base,
        "configuration": {
            "oauth.api.key": "cid",
            "oauth.api.secret": "csecret",
            "oauth.callback.url": "https://app.example.com/back",
        },
    }


async def test_an_instance_with_a_code_is_stored_with_its_tokens(
    admin: Admin, provider: tuple[TokenEndpoint, str]
) -> None:
    endpoint, base = provider
    status, shown = await admin.call("POST", "/instances", _hootsuite_body(base))
    assert status == 201
    assert shown["credentials"] == ["access_token", "client_id", "client_secret", "refresh_token"]
    assert "at-1" not in str(shown)
    stored = admin.ingress.instances.get("hs1")
    assert stored is not None
    assert stored.credentials["access_token"] == "at-1"
    assert endpoint.seen[0][1]["code"] == "the-code"


async def test_a_refused_code_is_422_and_stores_nothing(
    admin: Admin, provider: tuple[TokenEndpoint, str]
) -> None:
    endpoint, base = provider
    endpoint.status, endpoint.answer = 400, {"error": "invalid_grant"}
    status, answer = await admin.call("POST", "/instances", _hootsuite_body(base))
    assert status == 422
    assert answer["error"] == {
        "code": "code_refused",
        "message": "the provider refused the code: HTTP 400",
        "provider_error": "invalid_grant",
    }
    assert admin.producer.records == []
    assert admin.ingress.instances.get("hs1") is None


async def test_a_code_needs_a_hootsuite_instance_with_its_api_key(
    admin: Admin, provider: tuple[TokenEndpoint, str]
) -> None:
    _, base = provider
    body = _hootsuite_body(base)
    del body["configuration"]["oauth.api.secret"]
    status, answer = await admin.call("POST", "/instances", body)
    assert status == 422
    assert answer["error"]["message"].startswith("configuration: a code needs oauth.api.key")
    okto = {"id": "o1", "element": {"key": "oktopost"}, "providerData": {"code": "c"}}
    status, answer = await admin.call("POST", "/instances", okto)
    assert status == 422
    assert answer["error"]["message"].startswith("providerData.code: ")


async def test_the_authorize_url_is_the_providers_consent_page(admin: Admin) -> None:
    query = (
        "provider=hootsuite&client_id=cid&redirect_uri=https://app.example.com/back&state=s1"
        "&api_base_url=https://api.example.com/"
    )
    status, answer = await admin.call("GET", f"/oauth/authorize-url?{query}")
    assert status == 200
    parts = urlsplit(answer["url"])
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "api.example.com", "/oauth2/auth")
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": ["cid"],
        "redirect_uri": ["https://app.example.com/back"],
        "scope": ["offline"],
        "state": ["s1"],
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("provider=oktopost&client_id=c&redirect_uri=https://a.example/", "provider"),
        ("provider=hootsuite&redirect_uri=https://a.example/", "client_id"),
        ("provider=hootsuite&client_id=c", "redirect_uri"),
        ("provider=hootsuite&client_id=c&redirect_uri=javascript:alert(1)", "redirect_uri"),
    ],
)
async def test_a_bad_authorize_url_query_is_422_naming_the_field(
    admin: Admin, query: str, field: str
) -> None:
    status, answer = await admin.call("GET", f"/oauth/authorize-url?{query}")
    assert status == 422
    assert answer["error"]["message"].startswith(f"{field}: ")
