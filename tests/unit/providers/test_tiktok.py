"""TikTok: TikTok-Signature (t, s; 5 minutes), and each webhook event."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import pytest

from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import SignatureError
from pipeline.providers.tiktok import TikTok
from pipeline.simulators.social import TIKTOK, sample
from tests.support.totality import check_normalized

PROVIDER = TikTok()
LINEAGE = Lineage("tiktok", "inst1", "2025-11-20T12:30:01.000Z")
NOW = 1_733_490_000


def _header(secret: str, stamp: int, body: bytes) -> dict[str, str]:
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"tiktok-signature": f"t={stamp},s={signature}"}


def test_a_fresh_signature_over_the_timestamp_and_body_is_accepted() -> None:
    body = sample("tiktok", "publish_complete")
    PROVIDER.verify("cs", _header("cs", NOW - 299, body), body, NOW)
    PROVIDER.verify("cs", _header("cs", NOW + 299, body), body, NOW)


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_signature_more_than_5_minutes_off_is_refused(age: int) -> None:
    body = sample("tiktok", "publish_complete")
    with pytest.raises(SignatureError, match="5 minutes"):
        PROVIDER.verify("cs", _header("cs", NOW - age, body), body, NOW)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"tiktok-signature": "s=abc"},
        {"tiktok-signature": f"t={NOW},s="},
        {"tiktok-signature": "t=\uff11\uff12\uff13,s=ab"},  # digits, but not ASCII ones
    ],
)
def test_a_malformed_signature_header_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        PROVIDER.verify("cs", headers, b"{}", NOW)


def test_a_forged_signature_is_refused() -> None:
    body = sample("tiktok", "publish_complete")
    with pytest.raises(SignatureError):
        PROVIDER.verify("cs", _header("other", NOW, body), body, NOW)
    header = _header("cs", NOW, body)["tiktok-signature"].replace(f"t={NOW}", f"t={NOW + 1}")
    with pytest.raises(SignatureError):  # the timestamp is signed too
        PROVIDER.verify("cs", {"tiktok-signature": header}, body, NOW)


@pytest.mark.parametrize(
    ("name", "subject"),
    [
        ("publish_complete", "posts/v_pub_url~v2.123"),
        ("publicly_available", "posts/7406164488431273222"),
        ("publish_failed", "posts/v_pub_url~v2.124"),
        ("upload_failed", "posts/share.7406"),
        ("authorization_removed", "integrations/act.example12345Example12345Example"),
    ],
)
def test_each_event_names_its_subject(name: str, subject: str) -> None:
    [found] = check_normalized(PROVIDER.normalize(TIKTOK[name], {}, LINEAGE))
    assert found["subject"] == subject
    assert found["time"] == "2024-12-06T13:00:00.000Z"
    assert found["data"]["account_id"] == "act.example12345Example12345Example"


def test_a_retry_has_the_same_id_another_event_another() -> None:
    first = PROVIDER.normalize(orjson.loads(sample("tiktok", "publish_complete")), {}, LINEAGE)
    again = PROVIDER.normalize(orjson.loads(sample("tiktok", "publish_complete")), {}, LINEAGE)
    other = PROVIDER.normalize({**TIKTOK["publish_complete"], "create_time": NOW + 1}, {}, LINEAGE)
    assert first.events[0]["id"] == again.events[0]["id"] != other.events[0]["id"]


def test_an_unknown_event_is_kept_as_the_catch_all() -> None:
    body = {**TIKTOK["publish_complete"], "event": "portability.download.ready"}
    [found] = check_normalized(PROVIDER.normalize(body, {}, LINEAGE))
    assert (found["type"], found["data"]["kind"]) == (
        "platform.event",
        "portability.download.ready",
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"event": 5}, "unknown_event_type"),
        ({"event": "post.publish.complete", "content": "{}"}, "missing_object_id"),
    ],
)
def test_what_cannot_be_normalized_is_rejected_with_a_reason(body: Any, reason: str) -> None:
    assert [r.reason for r in PROVIDER.normalize(body, {}, LINEAGE).rejected] == [reason]
