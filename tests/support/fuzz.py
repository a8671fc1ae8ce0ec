"""Generated HTTP requests and raw-topic records for the end-to-end fuzz test.

Requests to every provider route carry correctly signed bodies with broken fields, random bytes
and truncated JSON (and now and then a wrong signature); junk routes get anything. Records written
straight onto `webhooks.raw` and `polls.raw` are envelopes and snapshots of every broken shape.
Generation is seeded: every run sends the same requests.
"""

from __future__ import annotations

import base64
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipeline.http.standard_webhooks import sign
from tests.support.documents import (
    broken_hootsuite_elements,
    broken_oktopost_documents,
    broken_standard_documents,
    hootsuite_ping,
    message_snapshots,
    mixed_hootsuite_batches,
    oktopost_documents,
    standard_documents,
)
from tests.support.malformed import DEEP, broken, deep, encode, json_values
from tests.support.payloads import OKTOPOST_DATA, hex_hmac, hootsuite_element, oktopost_body


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # already percent-encoded
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Targets:
    """The instances requests are aimed at: their webhook paths and secrets."""

    oktopost_path: str
    oktopost_secret: str
    hootsuite_path: str
    standard_path: str
    standard_secret: str


def generate(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """`count` values of `strategy`, the same ones every run (hypothesis as a generator only)."""
    values: list[Any] = []

    @settings(
        max_examples=count,
        phases=[Phase.generate],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        values.append(value)

    collect()
    return values


@dataclass(frozen=True)
class Pools:
    """Generated bodies to draw requests from (hypothesis is slow for thousands of big values)."""

    oktopost: list[bytes]
    hootsuite: list[bytes]
    standard: list[bytes]

    @classmethod
    def generate(cls, size: int) -> Pools:
        hootsuite = st.one_of(
            mixed_hootsuite_batches().map(lambda case: case[0]),
            broken_hootsuite_elements(),
            st.lists(broken_hootsuite_elements(), max_size=3),
            st.lists(st.builds(hootsuite_ping, st.text("0123456789", min_size=1)), max_size=2),
        )
        return cls(
            oktopost=_encoded(oktopost_documents(), broken_oktopost_documents(), size),
            hootsuite=generate(hootsuite.map(encode), size),
            standard=_encoded(standard_documents(), broken_standard_documents(), size),
        )


def _encoded(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], size: int) -> list[bytes]:
    return generate(st.one_of(good, bad, bad, bad).map(encode), size)


INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80")


def body(rng: random.Random, pool: list[bytes], fresh: Callable[[random.Random], bytes]) -> bytes:
    """A fresh documented body, or a pooled one as it is, truncated, with invalid UTF-8 spliced
    in; or random bytes, or deep nesting."""
    chosen = rng.choice(pool)
    kinds = ["fresh", "as is", "truncated", "spliced", "random", "deep"]
    kind = rng.choices(kinds, [8, 14, 2, 1, 1, 1])[0]
    if kind == "fresh":
        return fresh(rng)
    if kind == "truncated":
        return chosen[: rng.randrange(max(len(chosen), 1))]
    if kind == "spliced":
        at = rng.randrange(len(chosen) + 1)
        return chosen[:at] + rng.choice(INVALID_UTF8) + chosen[at:]
    if kind == "random":
        return rng.randbytes(rng.randrange(300))
    if kind == "deep":
        depth = rng.choice([65, 254, 300, 1000, 1024, 1100])
        return encode(deep(depth, objects=rng.random() < 0.5))
    return chosen


def compose(rng: random.Random, pools: Pools, target: Targets) -> Request:
    """One request: mostly signed provider webhooks, some forged, some to junk routes."""
    route = rng.choices(["oktopost", "hootsuite", "standard", "junk"], [30, 30, 25, 15])[0]
    if route == "oktopost":
        raw = body(rng, pools.oktopost, fresh_oktopost)
        how = rng.choice(["sha256", "sha256", "sha1", "sha256=", "sha1=", "wrong"])
        return Request("POST", target.oktopost_path, raw, {SIGNATURE: _hex(target, raw, how)})
    if route == "hootsuite":
        return Request("POST", target.hootsuite_path, body(rng, pools.hootsuite, fresh_batch), {})
    if route == "standard":
        raw = body(rng, pools.standard, fresh_standard)
        msg_id = rng.choice(["msg_again_1", "msg_again_2", f"msg_{rng.getrandbits(64):x}"])
        secret = target.standard_secret if rng.random() < 0.9 else FORGED_SECRET
        return Request("POST", target.standard_path, raw, _standard_headers(secret, raw, msg_id))
    return _junk(rng, target)


def _id(rng: random.Random) -> str:
    return f"{rng.getrandbits(40):x}"


def fresh_oktopost(rng: random.Random) -> bytes:
    event = rng.choice(sorted(OKTOPOST_DATA))
    data = {k: _id(rng) if k.endswith("Id") else v for k, v in OKTOPOST_DATA[event].items()}
    return oktopost_body(event, data, webhookId="0WA" + _id(rng))


def fresh_batch(rng: random.Random) -> bytes:
    states = ["SCHEDULED", "SENT", "SEND_FAILED_PERMANENTLY", "DELETED", "APPROVED"]
    elements = [
        hootsuite_element(str(rng.getrandbits(63)), rng.choice(states), _id(rng))
        for _ in range(rng.randint(1, 5))
    ]
    return orjson.dumps(elements)


def fresh_standard(rng: random.Random) -> bytes:
    event_type = rng.choice(["post.sent", "lead.created", "conversation.assigned"])
    return orjson.dumps({"type": event_type, "data": {"id": _id(rng)}})


SIGNATURE = "X-Oktopost-Signature"
FORGED_SECRET = "whsec_" + base64.b64encode(b"not the instance's secret").decode()


def _hex(target: Targets, body: bytes, how: str) -> str:
    if how == "wrong":
        return hex_hmac("not-the-secret", body)
    signature = hex_hmac(target.oktopost_secret, body, how.rstrip("="))
    return how + signature if how.endswith("=") else signature


def _standard_headers(secret: str, body: bytes, msg_id: str) -> dict[str, str]:
    now = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, msg_id, now, body),
    }


def _junk(rng: random.Random, target: Targets) -> Request:
    def segment() -> str:
        return quote(rng.randbytes(rng.randrange(20)).decode("latin-1"), safe="")

    path = rng.choice(
        [
            f"/v1/webhooks/{segment()}/{segment()}",
            f"/v1/webhooks/oktopost/{segment()}",
            f"/v1/webhooks/hootsuite/{segment()}",
            f"/v1/webhooks/standard/{segment()}",
            target.hootsuite_path + "/extra",
            "/" + segment(),
            "/v1/instances",
            "/v1/subscriptions",
            "/healthz",
        ]
    )
    method = rng.choice(["POST", "POST", "GET", "PUT", "DELETE"])
    return Request(method, path, rng.randbytes(rng.randrange(200)), {})


ENVELOPE_FIELDS = ("provider", "instance_id", "received_at", "headers", "options", "body")


def _envelope(provider: str, body: bytes) -> dict[str, Any]:
    return {
        "schema": "webhook-envelope/1",
        "request_id": uuid.uuid4().hex,
        "provider": provider,
        "instance_id": "fuzz-raw",
        "received_at": "2025-11-20T12:00:00.000Z",
        "headers": {"webhook-id": "msg_raw", "webhook-timestamp": "1763640000"},
        "options": {"include_raw": True},
        "body": base64.b64encode(body).decode(),
    }


def raw_records() -> st.SearchStrategy[tuple[str, bytes | None]]:
    """(topic name, value) written straight onto a raw topic, bypassing the ingress."""
    envelopes = st.builds(
        _envelope,
        st.sampled_from(["oktopost", "hootsuite", "standard"]),
        st.one_of(broken_oktopost_documents().map(encode), st.binary(max_size=50)),
    ).flatmap(lambda record: broken(record, ENVELOPE_FIELDS))
    junk = st.one_of(st.none(), st.binary(max_size=100), json_values.map(encode), DEEP.map(encode))
    snapshots = message_snapshots().flatmap(
        lambda s: broken(s, ("provider", "resource", "instance_id", "polled_at", "item_id", "item"))
    )
    return st.one_of(
        st.tuples(st.just("webhooks.raw"), st.one_of(envelopes.map(encode), junk)),
        st.tuples(st.just("polls.raw"), st.one_of(snapshots.map(encode), junk)),
    )
