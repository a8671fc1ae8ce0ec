"""The social platforms on the webhook URL, over a fake producer: their verification GET
(200 with the exact answer, 403 for a wrong token) and their signed POSTs (202, forged 401)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from pipeline.config.instances import Instance, decode_instance, instance_key
from pipeline.config.view import CompactedView
from pipeline.ingress.context import Ingress
from pipeline.ingress.readmodels.attempt_log import AttemptLog
from pipeline.ingress.server import build_app
from pipeline.settings import load_settings
from pipeline.simulators.social import SAMPLES, YOUTUBE_CHANNEL, sample, signed_request
from tests.support.contract import assert_valid
from tests.unit.ingress.test_webhooks import FakeProbe, FakeProducer

SECRET = "platform-secret"


@dataclass(frozen=True)
class Handshake:
    """A verification GET the platform sends, the exact answer, and a refused variant."""

    query: dict[str, str]
    status: int
    body: Callable[[bytes], bool]
    refused: dict[str, str] | None = None


def _x_answer(body: bytes) -> bool:
    expected = (
        "sha256="
        + base64.b64encode(hmac.new(SECRET.encode(), b"crc-1", hashlib.sha256).digest()).decode()
    )
    return orjson.loads(body) == {"response_token": expected}


def _linkedin_answer(body: bytes) -> bool:
    response = hmac.new(SECRET.encode(), b"code-1", hashlib.sha256).hexdigest()
    return orjson.loads(body) == {"challengeCode": "code-1", "challengeResponse": response}


YOUTUBE_VERIFY = {
    "hub.mode": "subscribe",
    "hub.topic": f"https://www.youtube.com/xml/feeds/videos.xml?channel_id={YOUTUBE_CHANNEL}",
    "hub.challenge": "yt-challenge-9",
    "hub.lease_seconds": "432000",
}
HANDSHAKES: dict[str, Handshake] = {
    "youtube": Handshake(
        YOUTUBE_VERIFY,
        200,
        lambda body: body == b"yt-challenge-9",
        {**YOUTUBE_VERIFY, "hub.topic": YOUTUBE_VERIFY["hub.topic"].replace("UCdemo", "UCother")},
    ),
    "linkedin": Handshake({"challengeCode": "code-1"}, 200, _linkedin_answer),
    "x": Handshake({"crc_token": "crc-1"}, 200, _x_answer),
    "meta": Handshake(
        {"hub.mode": "subscribe", "hub.verify_token": "vt-1", "hub.challenge": "CHALLENGE-1"},
        200,
        lambda body: body == b"CHALLENGE-1",
        {"hub.mode": "subscribe", "hub.verify_token": "vt-2", "hub.challenge": "CHALLENGE-1"},
    ),
}


def _view(decode: Any) -> CompactedView[Any]:
    view: CompactedView[Any] = CompactedView("127.0.0.1:1", "unused", decode)
    view.caught_up.set()
    return view


def _instance(provider: str, **fields: Any) -> Instance:
    return Instance(
        id=f"{provider}1",
        provider=provider,
        name=provider,
        enabled=True,
        created="2026-01-01T00:00:00.000Z",
        modified="2026-01-01T00:00:00.000Z",
        signing_secret=SECRET,
        **fields,
    )


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
async def base_url(producer: FakeProducer) -> AsyncIterator[str]:
    instances = _view(decode_instance)
    for instance in (
        _instance("meta", verify_token="vt-1"),
        _instance("oktopost"),
        _instance("x"),
        _instance("linkedin"),
        _instance("tiktok"),
        _instance("youtube", channels=[YOUTUBE_CHANNEL]),
    ):
        instances.apply(instance.id, instance, 0)
    ingress = Ingress(
        settings=load_settings(topic_prefix="unit."),
        producer=producer,  # type: ignore[arg-type]  # the fake has the one method used
        instances=instances,
        health=_view(orjson.loads),
        subscriptions=_view(orjson.loads),
        attempt_log=AttemptLog("127.0.0.1:1", "unused"),
        probe=FakeProbe(),  # type: ignore[arg-type]
    )
    async with TestServer(build_app(ingress), host="127.0.0.1") as server:
        yield str(server.make_url("")).rstrip("/")


def _hook(provider: str) -> str:
    return f"/v1/webhooks/{provider}/{instance_key(provider + '1')}"


async def _request(
    method: str, url: str, *, params: Any = None, body: bytes = b"", headers: Any = None
) -> tuple[int, bytes, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, params=params, data=body, headers=headers) as response,
    ):
        return response.status, await response.read(), response.content_type


@pytest.mark.parametrize("provider", sorted(HANDSHAKES))
async def test_the_verification_get_is_answered_exactly(base_url: str, provider: str) -> None:
    case = HANDSHAKES[provider]
    status, body, _ = await _request("GET", base_url + _hook(provider), params=case.query)
    assert status == case.status
    assert case.body(body), body


@pytest.mark.parametrize("provider", sorted(p for p in HANDSHAKES if HANDSHAKES[p].refused))
async def test_a_verification_with_a_wrong_token_is_403(base_url: str, provider: str) -> None:
    refused = HANDSHAKES[provider].refused
    status, body, kind = await _request("GET", base_url + _hook(provider), params=refused)
    assert (status, kind) == (403, "application/json")
    assert orjson.loads(body)["error"]["code"] == "handshake_refused"


async def test_a_provider_without_a_verification_get_is_405(base_url: str) -> None:
    status, body, _ = await _request("GET", base_url + _hook("oktopost"))
    assert status == 405
    assert orjson.loads(body)["error"]["code"] == "method_not_allowed"


async def test_a_verified_youtube_lease_is_recorded_before_the_answer(
    base_url: str, producer: FakeProducer
) -> None:
    status, _, _ = await _request("GET", base_url + _hook("youtube"), params=YOUTUBE_VERIFY)
    assert status == 200
    [(topic, key, value)] = producer.records
    assert (topic, key) == ("unit.websub.leases", f"youtube1/{YOUTUBE_CHANNEL}".encode())
    assert value is not None
    lease = orjson.loads(value)
    assert (lease["lease_seconds"], lease["topic"]) == (432000, YOUTUBE_VERIFY["hub.topic"])
    assert_valid("websub-lease.json", value)
    unsubscribe = {**YOUTUBE_VERIFY, "hub.mode": "unsubscribe"}  # a channel it still wants
    status, _, _ = await _request("GET", base_url + _hook("youtube"), params=unsubscribe)
    assert status == 403
    assert len(producer.records) == 1


async def test_a_lease_kafka_cannot_take_is_503_and_the_hub_retries(
    base_url: str, producer: FakeProducer
) -> None:
    producer.fail = True
    status, body, _ = await _request("GET", base_url + _hook("youtube"), params=YOUTUBE_VERIFY)
    assert (status, orjson.loads(body)["error"]["code"]) == (503, "kafka_unavailable")


async def test_tiktok_sends_no_verification_get_405(base_url: str) -> None:
    status, _, _ = await _request("GET", base_url + _hook("tiktok"))
    assert status == 405


async def test_a_stale_tiktok_signature_is_401(base_url: str, producer: FakeProducer) -> None:
    body = sample("tiktok", "publish_complete")
    stale = signed_request("tiktok", SECRET, body, time.time() - 301)
    status, answer, _ = await _request("POST", base_url + _hook("tiktok"), body=body, headers=stale)
    assert (status, orjson.loads(answer)["error"]["code"]) == (401, "invalid_signature")
    assert producer.records == []
    fresh = signed_request("tiktok", SECRET, body, time.time() - 250)
    status, _, _ = await _request("POST", base_url + _hook("tiktok"), body=body, headers=fresh)
    assert status == 202


async def test_an_unknown_instance_is_404_for_the_verification_too(base_url: str) -> None:
    status, body, _ = await _request("GET", base_url + "/v1/webhooks/meta/bm9uZQ")
    assert (status, orjson.loads(body)["error"]["code"]) == (404, "unknown_instance")


@pytest.mark.parametrize("provider", sorted(SAMPLES))
async def test_a_signed_post_is_202_and_a_forged_one_401_with_nothing_written(
    base_url: str, producer: FakeProducer, provider: str
) -> None:
    body = sample(provider, sorted(SAMPLES[provider])[0])
    forged = signed_request(provider, "not-the-secret", body)
    status, answer, _ = await _request(
        "POST", base_url + _hook(provider), body=body, headers=forged
    )
    assert status == 401
    assert orjson.loads(answer)["error"]["code"] == "invalid_signature"
    assert producer.records == []
    headers = signed_request(provider, SECRET, body)
    status, _, _ = await _request("POST", base_url + _hook(provider), body=body, headers=headers)
    assert status == 202
    [(topic, key, _)] = producer.records
    assert (topic, key) == ("unit.webhooks.raw", f"{provider}1".encode())
