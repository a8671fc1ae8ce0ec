"""pipeline.events.envelope: what is written on `webhooks.raw` and how it reads back."""

from __future__ import annotations

import base64

import msgspec
import orjson
import pytest

from pipeline.events.envelope import (
    EnvelopeOptions,
    WebhookEnvelope,
    decode_envelope,
    encode_envelope,
)
from tests.support.contract import assert_valid

BODY = b'\x00{"not": "utf-8 \xff"}'


def envelope(options: EnvelopeOptions) -> WebhookEnvelope:
    return WebhookEnvelope(
        request_id="r1",
        provider="oktopost",
        instance_id="inst1",
        received_at="2025-11-20T12:00:00.000Z",
        headers={"content-type": "application/json"},
        body=BODY,
        options=options,
    )


def test_the_body_is_written_as_base64_and_identity_only_when_set() -> None:
    wire = orjson.loads(encode_envelope(envelope(EnvelopeOptions(include_raw=False))))
    assert base64.b64decode(wire["body"]) == BODY
    assert wire["schema"] == "webhook-envelope/1"
    assert wire["options"] == {"include_raw": False}
    managed = orjson.loads(encode_envelope(envelope(EnvelopeOptions(identity="content"))))
    assert managed["options"] == {"include_raw": True, "identity": "content"}


@pytest.mark.parametrize("options", [EnvelopeOptions(), EnvelopeOptions(identity="content")])
def test_a_written_envelope_matches_its_schema_and_reads_back_equal(
    options: EnvelopeOptions,
) -> None:
    written = encode_envelope(envelope(options))
    assert_valid("webhook-envelope.json", written)
    assert decode_envelope(written) == envelope(options)


def test_a_value_of_another_shape_is_refused_with_the_field_named() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"missing required field `body`"):
        decode_envelope(
            b'{"request_id": "r", "provider": "p", "instance_id": "i", "received_at": "t"}'
        )
