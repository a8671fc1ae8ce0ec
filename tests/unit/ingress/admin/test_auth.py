"""Admin tokens: several accepted at once (rotation), every request audited by fingerprint."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from pipeline.config.instances import decode_instance
from pipeline.config.view import CompactedView
from pipeline.errors import ConfigError
from pipeline.ingress.admin.auth import fingerprint, match_token
from pipeline.ingress.context import Ingress
from pipeline.ingress.readmodels.attempt_log import AttemptLog
from pipeline.ingress.server import build_app
from pipeline.settings import load_settings

OLD = "old-admin-token-1f3a"
NEW = "new-admin-token-9c2e"


class FakeProbe:
    async def ready(self) -> bool:
        return True


def _view(decode: Any) -> CompactedView[Any]:
    view: CompactedView[Any] = CompactedView("127.0.0.1:1", "unused", decode)
    view.caught_up.set()
    return view


def _ingress(admin_token: str | None) -> Ingress:
    return Ingress(
        settings=load_settings(topic_prefix="unit.", admin_token=admin_token),
        producer=None,  # type: ignore[arg-type]  # read-only routes never write
        instances=_view(decode_instance),
        health=_view(orjson.loads),
        subscriptions=_view(orjson.loads),
        attempt_log=AttemptLog("127.0.0.1:1", "unused"),
        probe=FakeProbe(),  # type: ignore[arg-type]
    )


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with TestServer(build_app(_ingress(f"{OLD}, {NEW}")), host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


async def _get(url: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as r:
        await r.read()
        return r.status


def _audit_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pipeline.ingress.audit"]


async def test_every_listed_token_is_accepted_during_a_rotation(base_url: str) -> None:
    assert await _get(base_url + "/v1/instances", OLD) == 200
    assert await _get(base_url + "/v1/instances", NEW) == 200
    assert await _get(base_url + "/v1/instances", f"{OLD},{NEW}") == 401
    assert await _get(base_url + "/v1/instances", OLD[:-1]) == 401
    assert await _get(base_url + "/v1/instances", "") == 401
    assert await _get(base_url + "/v1/instances", None) == 401


async def test_each_admin_request_is_logged_with_a_fingerprint_never_the_token(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.ingress.audit")
    await _get(base_url + "/v1/instances", NEW)
    await _get(base_url + "/v1/instances/nope", OLD)
    await _get(base_url + "/v1/subscriptions?name=x", "guessed-token")
    await _get(base_url + "/v1/instances", None)
    assert _audit_lines(caplog) == [
        f"admin GET /v1/instances 200 token={fingerprint(NEW)}",
        f"admin GET /v1/instances/nope 404 token={fingerprint(OLD)}",
        "admin GET /v1/subscriptions 401 token=invalid",
        "admin GET /v1/instances 401 token=none",
    ]
    assert fingerprint(OLD) != fingerprint(NEW)
    logged = caplog.text
    assert OLD not in logged
    assert NEW not in logged
    assert "guessed-token" not in logged


async def test_webhooks_are_not_audited_as_admin_requests(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.ingress.audit")
    async with (
        aiohttp.ClientSession() as session,
        session.post(base_url + "/v1/webhooks/oktopost/eA", data=b"{}") as r,
    ):
        assert r.status == 404
    assert _audit_lines(caplog) == []


async def test_without_a_token_the_admin_api_is_off() -> None:
    async with TestServer(build_app(_ingress(None)), host="127.0.0.1") as server:
        url = str(server.make_url("/v1/instances"))
        assert await _get(url, "anything") == 401


def test_match_token_finds_the_equal_token_only() -> None:
    assert match_token(NEW, (OLD, NEW)) == NEW
    assert match_token(OLD, (OLD, NEW)) == OLD
    assert match_token("", (OLD, NEW)) is None
    assert match_token(NEW, ()) is None


def test_the_variable_splits_on_commas_and_refuses_an_empty_list() -> None:
    assert load_settings(admin_token=" a ,b,, c").admin_tokens() == ("a", "b", "c")
    assert load_settings(admin_token="single").admin_tokens() == ("single",)
    assert load_settings(admin_token=None).admin_tokens() == ()
    with pytest.raises(ConfigError, match="PIPELINE_ADMIN_TOKEN") as raised:
        load_settings(admin_token=" , ")
    assert "got" not in str(raised.value)
