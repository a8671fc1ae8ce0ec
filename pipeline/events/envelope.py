"""Webhook envelopes (`webhooks.raw`): a provider webhook as received, typed and frozen.

Written by the ingress (`pipeline/ingress/webhooks.py`) and by the Oktopost webhook-log
reconciler (`pipeline/pollers/oktopost_webhooks.py`); read once by normalize
(`pipeline/providers/normalize.py`), where a value that is not an envelope becomes an
`unreadable_record` dead letter with msgspec's message (which field, what was wrong).
Here, in `events/`, so that both sides import it without a cycle between subpackages.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from pipeline.contract.codec import Codec

ENVELOPE_SCHEMA = "webhook-envelope/1"

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class EnvelopeOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Per-instance processing options copied at receipt."""

    include_raw: bool = True
    # "content" for a managed Oktopost instance; absent (the default, "delivery") otherwise.
    identity: str | msgspec.UnsetType = msgspec.UNSET


class WebhookEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """One verified provider webhook, as on `webhooks.raw`."""

    schema: str = ENVELOPE_SCHEMA
    request_id: str
    provider: str
    instance_id: NonEmpty
    received_at: str  # RFC 3339, checked by the reader
    headers: dict[str, str] = {}
    body: bytes  # the request body exactly as received; base64 on the wire
    options: EnvelopeOptions = EnvelopeOptions()


ENVELOPES = Codec(WebhookEnvelope)  # `webhooks.raw` values
decode_envelope = ENVELOPES.decode
encode_envelope = ENVELOPES.encode
