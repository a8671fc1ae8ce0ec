from __future__ import annotations

import time

import pytest

from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import Lineage
from pipeline.http.standard_webhooks import generate_secret
from pipeline.providers.base import SignatureError
from pipeline.providers.standard import Standard
from pipeline.settings import REPO_ROOT
from tests.support.payloads import standard_request

STANDARD = Standard()
SECRET = generate_secret()
PAYLOAD = {"type": "lead.created", "timestamp": "2025-11-20T08:00:00Z", "data": {"id": "L7"}}
LINEAGE = Lineage("standard", "std1", "2025-11-20T08:00:01.000Z")


def test_the_reference_library_signature_verifies() -> None:
    body, headers = standard_request(SECRET, "msg_1", PAYLOAD)
    assert STANDARD.verify(SECRET, headers, body, time.time()) is None
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        STANDARD.verify(generate_secret(), headers, body, time.time())  # another secret


def test_any_of_several_signatures_may_match_during_rotation() -> None:
    body, headers = standard_request(SECRET, "msg_1", PAYLOAD)
    _, old = standard_request(generate_secret(), "msg_1", PAYLOAD)
    headers["webhook-signature"] = f"{old['webhook-signature']} {headers['webhook-signature']}"
    assert STANDARD.verify(SECRET, headers, body, time.time()) is None
    headers["webhook-signature"] = old["webhook-signature"]  # the other secret's alone
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        STANDARD.verify(SECRET, headers, body, time.time())


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamps_outside_five_minutes_are_refused(skew: int) -> None:
    now = time.time()
    body, headers = standard_request(SECRET, "msg_1", PAYLOAD, at=now + skew)
    with pytest.raises(SignatureError, match="5 minutes"):
        STANDARD.verify(SECRET, headers, body, now)


def test_tampering_and_missing_headers_are_refused() -> None:
    body, headers = standard_request(SECRET, "msg_1", PAYLOAD)
    with pytest.raises(SignatureError, match="no webhook-signature matches"):
        STANDARD.verify(SECRET, headers, body + b" ", time.time())
    with pytest.raises(SignatureError, match="missing"):
        STANDARD.verify(SECRET, {"webhook-id": "msg_1"}, body, time.time())


def test_normalizes_with_the_webhook_id_as_identity() -> None:
    body, headers = standard_request(SECRET, "msg_1", PAYLOAD)
    [event] = STANDARD.normalize(STANDARD.parse(body), headers, LINEAGE).events
    assert (event["type"], event["subject"]) == ("lead.created", "leads/L7")
    assert event["time"] == "2025-11-20T08:00:00.000Z"
    assert Catalog(REPO_ROOT / "topics").violation(event) is None
    _, retried = standard_request(SECRET, "msg_1", PAYLOAD)
    [again] = STANDARD.normalize(STANDARD.parse(body), retried, LINEAGE).events
    assert again["id"] == event["id"]


def test_types_outside_the_catalog_are_rejected() -> None:
    result = STANDARD.normalize({"type": "user.created", "data": {"id": "1"}}, {}, LINEAGE)
    assert [r.reason for r in result.rejected] == ["unknown_event_type"]
