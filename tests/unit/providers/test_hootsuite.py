from __future__ import annotations

import orjson
import pytest

from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import PayloadError, SignatureError
from pipeline.providers.hootsuite import APPS, COMMENTS, MESSAGES, STATE_MAP, Hootsuite
from pipeline.settings import REPO_ROOT
from tests.support.payloads import hex_hmac, hootsuite_element, hootsuite_ping

HOOTSUITE = Hootsuite()
LINEAGE = Lineage("hootsuite", "hs1", "2025-11-20T12:00:01.000Z")
CATALOG = Catalog(REPO_ROOT / "topics")

DOCUMENTED_STATES = {
    MESSAGES: {
        "SCHEDULED",
        "PENDING_APPROVAL",
        "APPROVED",
        "SUBMITTED",
        "SENT",
        "SEND_FAILED_PERMANENTLY",
        "DELETED",
        "REJECTED",
    },
    COMMENTS: {
        "PENDING_APPROVAL",
        "EXPIRED_APPROVAL",
        "COMPLETED",
        "FAILED",
        "DELETED",
        "REJECTED",
    },
    APPS: {"INSTALLED", "UNINSTALLED"},
}


def test_every_documented_type_and_state_is_mapped() -> None:
    assert {kind: set(states) for kind, states in STATE_MAP.items()} == DOCUMENTED_STATES


@pytest.mark.parametrize(
    ("kind", "state"),
    [(kind, state) for kind, states in DOCUMENTED_STATES.items() for state in sorted(states)],
)
def test_each_state_normalizes_to_a_valid_event(kind: str, state: str) -> None:
    subject_object = {MESSAGES: "message", COMMENTS: "comment", APPS: "organization"}[kind]
    element = {
        "seq_no": "42",
        "type": kind,
        "data": {"state": state, subject_object: {"id": "77"}, "organization": {"id": "77"}},
    }
    result = HOOTSUITE.normalize([element], {}, LINEAGE)
    assert result.rejected == []
    [event] = result.events
    assert event["type"] == STATE_MAP[kind][state]
    assert event["providerevent"] == f"{kind}:{state}"
    assert CATALOG.violation(event) is None


def test_a_batch_becomes_one_event_per_element_and_pings_are_dropped() -> None:
    batch = [
        hootsuite_element("1001", "SCHEDULED"),
        hootsuite_ping("1002"),
        hootsuite_element("1003", "SENT"),
    ]
    result = HOOTSUITE.normalize(HOOTSUITE.parse(orjson.dumps(batch)), {}, LINEAGE)
    assert [e["type"] for e in result.events] == ["post.scheduled", "post.sent"]
    assert result.ignored == 1
    assert {e["subject"] for e in result.events} == {"posts/9001"}
    assert result.events[0]["time"] == "2025-11-20T12:00:00.000Z"


def test_seq_no_is_the_identity() -> None:
    first = HOOTSUITE.normalize([hootsuite_element("5", "SENT")], {}, LINEAGE).events[0]
    again = HOOTSUITE.normalize([hootsuite_element("5", "SENT")], {}, LINEAGE).events[0]
    other = HOOTSUITE.normalize([hootsuite_element("6", "SENT")], {}, LINEAGE).events[0]
    assert first["id"] == again["id"] != other["id"]


def test_ping_only_batches_carry_no_events() -> None:
    assert not HOOTSUITE.has_events([hootsuite_ping("1")])
    assert HOOTSUITE.has_events([hootsuite_ping("1"), hootsuite_element("2", "SENT")])


def test_bad_elements_are_rejected_and_the_rest_kept() -> None:
    batch = [
        hootsuite_element("1", "SENT"),
        {"seq_no": "2", "type": "com.hootsuite.unknown.v1", "data": {}},
        {"type": MESSAGES, "data": {"state": "SENT", "message": {"id": "1"}}},
        hootsuite_element("4", "LAUNCHED"),
        "not an object",
    ]
    result = HOOTSUITE.normalize(batch, {}, LINEAGE)
    assert len(result.events) == 1
    assert [r.reason for r in result.rejected] == [
        "unknown_event_type",
        "missing_seq_no",
        "unknown_state",
        "malformed_element",
    ]


def test_signature_is_checked_only_when_the_instance_has_a_secret() -> None:
    body = orjson.dumps([hootsuite_element("1", "SENT")])
    HOOTSUITE.verify(None, {}, body, 0)
    HOOTSUITE.verify("k", {"x-hootsuite-signature": hex_hmac("k", body)}, body, 0)
    with pytest.raises(SignatureError):
        HOOTSUITE.verify("k", {}, body, 0)
    with pytest.raises(SignatureError):
        HOOTSUITE.verify("k", {"x-hootsuite-signature": hex_hmac("other", body)}, body, 0)


def test_a_single_object_is_a_batch_of_one_and_garbage_is_refused() -> None:
    assert HOOTSUITE.parse(orjson.dumps(hootsuite_element("1", "SENT")))[0]["seq_no"] == "1"
    with pytest.raises(PayloadError):
        HOOTSUITE.parse(b"seq_no=1")
    with pytest.raises(PayloadError):
        HOOTSUITE.parse(b"42")
