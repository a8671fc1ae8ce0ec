from __future__ import annotations

import base64
import shutil
from pathlib import Path

import orjson
import pytest

from pipeline.events.catalog import Catalog
from pipeline.events.invalid import encode_invalid
from pipeline.providers.normalize import normalize_poll, normalize_webhook
from pipeline.settings import REPO_ROOT
from tests.support.payloads import hootsuite_element, oktopost_body

CATALOG = Catalog(REPO_ROOT / "topics")


def envelope(provider: str, body: bytes, **options: bool) -> bytes:
    return orjson.dumps(
        {
            "schema": "webhook-envelope/1",
            "request_id": "r1",
            "provider": provider,
            "instance_id": "inst1",
            "received_at": "2025-11-20T12:00:00.000Z",
            "headers": {},
            "options": {"include_raw": options.get("include_raw", True)},
            "body": base64.b64encode(body).decode(),
        }
    )


def test_an_envelope_becomes_events() -> None:
    outcome = normalize_webhook(envelope("oktopost", oktopost_body("postSent")), CATALOG)
    assert (outcome.provider, outcome.instance_id) == ("oktopost", "inst1")
    assert [e["type"] for e in outcome.events] == ["post.sent"]
    assert outcome.invalid == []


def test_include_raw_travels_in_the_envelope() -> None:
    outcome = normalize_webhook(
        envelope("oktopost", oktopost_body("postSent"), include_raw=False), CATALOG
    )
    assert "raw" not in outcome.events[0]["data"]


def test_an_unreadable_record_is_a_dead_letter_not_an_exception() -> None:
    outcome = normalize_webhook(b"\x00garbage", CATALOG)
    [dead] = outcome.invalid
    assert (dead.stage, dead.reason) == ("normalize", "unreadable_record")
    assert base64.b64decode(dead.record["undecodable_base64"]) == b"\x00garbage"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"provider": 7}, "Expected `str`, got `int` - at `$.provider`"),
        ({"provider": "nobody"}, "no provider 'nobody'"),
        ({"instance_id": ""}, "Expected `str` of length >= 1 - at `$.instance_id`"),
        ({"body": "@@not base64"}, "Invalid base64 encoded string - at `$.body`"),
        ({"headers": {"x": 1}}, "Expected `str`, got `int` - at `$.headers[...]`"),
        ({"received_at": "yesterday"}, "received_at 'yesterday' is not a time"),
        ({"options": []}, "Expected `object`, got `array` - at `$.options`"),
    ],
)
def test_a_record_that_is_not_an_envelope_is_a_dead_letter_saying_why(
    change: dict[str, object], message: str
) -> None:
    raw = orjson.dumps(orjson.loads(envelope("oktopost", oktopost_body("postSent"))) | change)
    outcome = normalize_webhook(raw, CATALOG)
    assert outcome.events == []
    [dead] = outcome.invalid
    assert (dead.reason, dead.message) == ("unreadable_record", f"not an envelope: {message}")
    assert base64.b64decode(dead.record["undecodable_base64"]) == raw


def test_a_record_nested_deeper_than_msgspec_reads_is_a_dead_letter_not_an_exception() -> None:
    raw = b'{"extra":' + b'{"a":' * 2000 + b"1" + b"}" * 2001
    outcome = normalize_webhook(raw, CATALOG)
    [dead] = outcome.invalid
    assert (dead.reason, dead.message) == (
        "unreadable_record",
        "not an envelope: nests too deep to read",
    )


def test_a_snapshot_nested_deeper_than_msgspec_reads_is_a_dead_letter_not_an_exception() -> None:
    """Found by tests/integration/test_fuzz.py once snapshots were decoded by msgspec."""
    raw = b'{"extra":' + b'{"a":' * 2000 + b"1" + b"}" * 2001
    outcome = normalize_poll(raw, CATALOG)
    [dead] = outcome.invalid
    assert (dead.reason, dead.message) == (
        "unreadable_record",
        "not a snapshot: nests too deep to read",
    )


def test_an_envelope_without_headers_or_options_reads_with_their_defaults() -> None:
    record = orjson.loads(envelope("oktopost", oktopost_body("postSent")))
    del record["headers"], record["options"]
    outcome = normalize_webhook(orjson.dumps(record), CATALOG)
    assert (len(outcome.events), outcome.invalid) == (1, [])
    assert "raw" in outcome.events[0]["data"]  # include_raw defaults to true


def test_rejected_elements_keep_the_whole_record_and_the_element() -> None:
    batch = [hootsuite_element("1", "SENT"), hootsuite_element("2", "EXPLODED")]
    raw = envelope("hootsuite", orjson.dumps(batch))
    outcome = normalize_webhook(raw, CATALOG)
    assert len(outcome.events) == 1
    [dead] = outcome.invalid
    assert dead.reason == "unknown_state"
    assert dead.element == batch[1]
    assert orjson.loads(encode_invalid(dead))["record"] == orjson.loads(raw)  # as written


def test_schema_violations_are_dead_letters(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "topics", tmp_path / "topics")
    schema_path = tmp_path / "topics" / "events" / "post.sent.json"
    schema = orjson.loads(schema_path.read_bytes())
    schema["properties"]["data"]["required"].append("never_present")
    schema_path.write_bytes(orjson.dumps(schema))
    outcome = normalize_webhook(
        envelope("oktopost", oktopost_body("postSent")), Catalog(tmp_path / "topics")
    )
    assert outcome.events == []
    [dead] = outcome.invalid
    assert dead.reason == "schema_violation"
    assert "never_present" in dead.message
