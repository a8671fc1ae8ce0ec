"""Any `webhooks.raw` or `polls.raw` record → checked events and valid dead letters, no raise."""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from pipeline.providers.base import PayloadError
from pipeline.providers.normalize import normalize_poll, normalize_webhook
from pipeline.providers.registry import PROVIDERS
from pipeline.settings import REPO_ROOT
from tests.support.documents import (
    broken_hootsuite_elements,
    hootsuite_elements,
    message_snapshots,
    oktopost_documents,
    standard_documents,
)
from tests.support.malformed import DEEP, NASTY_STRINGS, broken, corrupt_bytes, encode, json_values
from tests.support.totality import CATALOG, INPUT_REASONS, PROPERTY, check_outcome

ENVELOPE_FIELDS = ("provider", "instance_id", "received_at", "headers", "options", "body")
SNAPSHOT_FIELDS = ("provider", "resource", "instance_id", "polled_at", "options", "item_id")
good_bodies = {
    "oktopost": oktopost_documents().map(encode),
    "hootsuite": st.lists(hootsuite_elements(), min_size=1, max_size=4).map(encode),
    "standard": standard_documents().map(encode),
}
bad_base64 = st.one_of(
    st.sampled_from(["é", "YQ", "Y===", "!!!!", "\x00", "YWJj\n"]),
    NASTY_STRINGS,
    st.text(max_size=20),
)


def envelope(provider: str, body: bytes, include_raw: bool = True) -> dict[str, Any]:
    return {
        "schema": "webhook-envelope/1",
        "request_id": "r1",
        "provider": provider,
        "instance_id": "inst1",
        "received_at": "2025-11-20T12:00:00.000Z",
        "headers": {"webhook-id": "msg_1", "webhook-timestamp": "1763640000"},
        "options": {"include_raw": include_raw},
        "body": base64.b64encode(body).decode(),
    }


@st.composite
def good_envelopes(draw: st.DrawFn) -> dict[str, Any]:
    provider = draw(st.sampled_from(sorted(good_bodies)))
    return envelope(provider, draw(good_bodies[provider]), draw(st.booleans()))


@st.composite
def broken_bodies(draw: st.DrawFn, provider: str) -> bytes:
    good = draw(good_bodies[provider])
    if provider == "hootsuite":
        broken_body = st.lists(broken_hootsuite_elements(), max_size=4).map(encode)
    else:
        document = orjson.loads(good)
        broken_body = broken(document, tuple(document)).map(encode)
    return draw(st.one_of(broken_body, corrupt_bytes(good), DEEP.map(encode)))


@st.composite
def broken_envelopes(draw: st.DrawFn) -> Any:
    provider = draw(st.sampled_from(sorted(good_bodies)))
    record = envelope(provider, draw(broken_bodies(provider)))
    if draw(st.integers(0, 3)) == 0:
        record["body"] = draw(bad_base64)
    return draw(broken(record, ENVELOPE_FIELDS))


def writable(raw: bytes) -> bool:
    """Whether the ingress would have written this envelope (not 400, not a ping-only 200)."""
    record = orjson.loads(raw)
    provider = PROVIDERS[record["provider"]]
    try:
        return provider.has_events(provider.parse(base64.b64decode(record["body"])))
    except PayloadError:
        return False


@PROPERTY
@given(good_envelopes())
def test_documented_envelopes_become_only_events(record: dict[str, Any]) -> None:
    outcome = normalize_webhook(encode(record), CATALOG)
    check_outcome(outcome)
    assert outcome.invalid == []
    body = orjson.loads(base64.b64decode(record["body"]))
    assert len(outcome.events) == (len(body) if isinstance(body, list) else 1)
    assert all(("raw" in e["data"]) == record["options"]["include_raw"] for e in outcome.events)


@PROPERTY
@given(broken_envelopes())
def test_broken_envelopes_are_events_and_dead_letters(record: Any) -> None:
    raw = encode(record)
    outcome = normalize_webhook(raw, CATALOG)
    check_outcome(outcome)
    if not (outcome.events or outcome.invalid):
        assert outcome.ignored or not writable(raw)


@PROPERTY
@given(
    st.one_of(
        st.binary(max_size=300),
        good_envelopes().map(encode).flatmap(corrupt_bytes),
        json_values.map(encode),
        DEEP.map(encode),
    )
)
def test_any_bytes_are_a_record_or_one_unreadable_record(raw: bytes) -> None:
    for normalize in (normalize_webhook, normalize_poll):
        outcome = normalize(raw, CATALOG)
        check_outcome(outcome)
        if outcome.provider == "unknown":
            assert [d.reason for d in outcome.invalid] == ["unreadable_record"]
            assert outcome.events == []


@PROPERTY
@given(message_snapshots())
def test_snapshots_become_one_event(snapshot: dict[str, Any]) -> None:
    outcome = normalize_poll(encode(snapshot), CATALOG)
    check_outcome(outcome)
    assert (len(outcome.events), outcome.invalid) == (1, [])


@PROPERTY
@given(message_snapshots().flatmap(lambda s: broken(s, (*SNAPSHOT_FIELDS, "item", "deleted"))))
def test_broken_snapshots_are_one_event_or_one_dead_letter(snapshot: Any) -> None:
    outcome = normalize_poll(encode(snapshot), CATALOG)
    check_outcome(outcome)
    assert len(outcome.events) + len(outcome.invalid) == 1


def test_every_reason_the_code_gives_is_documented() -> None:
    # errors.py: the API clients' errors, which are never a reason on a dead letter
    providers = sorted((REPO_ROOT / "pipeline" / "providers").glob("*.py"))
    sources = [source for source in providers if source.name != "errors.py"]
    given_reasons = set()
    for source in sources:
        text = source.read_text()
        given_reasons |= set(re.findall(r'Rejected\(\s*"([a-z_]+)"', text))
        given_reasons |= set(re.findall(r'_dead\(\s*outcome,\s*"([a-z_]+)"', text))
        given_reasons |= set(re.findall(r'code = "([a-z_]+)"', text))
    assert "invalid_seq_no" in given_reasons  # the patterns still find them
    # the ingress's answers to a request, never a dead letter's reason
    answered = {"invalid_signature", "handshake_refused", "missing_parameter"}
    assert given_reasons - answered <= INPUT_REASONS
