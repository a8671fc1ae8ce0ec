"""Rotated refresh tokens: token endpoint → `pollers.credentials` → a restarted or new owner.

A token endpoint may answer a refresh with a new refresh token and invalidate the old one. The
client hands each new one to `CredentialStore.save`, which returns once Kafka acked it, before the
new access token is used; any poller that starts polling the instance later (after a restart, or
taking it over from another) asks `current` and refreshes with the newest. A record names the
configured grant it descends from (a fingerprint), so credentials PATCHed in later win over it.
The token itself is sealed by the key ring (`pipeline.config.keyring`), as the secrets on
`config.*` are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import msgspec

from pipeline.config.keyring import KeyRing
from pipeline.config.view import CompactedView
from pipeline.contract.codec import Codec
from pipeline.contract.topics import Topic
from pipeline.events.cloudevent import rfc3339
from pipeline.pollers.hootsuite_api import HootsuiteCredentials
from pipeline.pollers.writer import RecordWriter


class RotatedToken(msgspec.Struct, frozen=True, kw_only=True):
    """A `pollers.credentials` value (schemas/poller-credentials.json). On the topic
    `refresh_token` is sealed; in a view it is open."""

    instance_id: str
    grant: str
    refresh_token: str
    rotated_at: str


TOKENS = Codec(RotatedToken)  # `pollers.credentials` values, their token sealed


def grant_of(configured: HootsuiteCredentials) -> str:
    """A fingerprint of the configured client and refresh token; it reveals neither."""
    material = f"{configured.client_id}\0{configured.refresh_token or ''}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def _context(instance_id: str) -> str:
    return f"{Topic.POLLERS_CREDENTIALS}/{instance_id}/refresh_token"


def credentials_decoder(ring: KeyRing) -> Callable[[bytes], RotatedToken]:
    """The view's decoder: a stored record with its token opened; `msgspec.DecodeError` (a
    `ValueError`) or the ring's refusal makes the view skip (and log) a record it cannot use."""

    def decode(raw: bytes) -> RotatedToken:
        sealed = TOKENS.decode(raw)
        token = ring.open(sealed.refresh_token, _context(sealed.instance_id))
        return msgspec.structs.replace(sealed, refresh_token=token)

    return decode


async def write_rotated_token(
    writer: RecordWriter,
    topic: str,
    instance_id: str,
    grant: str,
    refresh_token: str,
    *,
    ring: KeyRing,
) -> tuple[RotatedToken, int]:
    """The one place a refresh token is written, sealed; returns the record (with the token in
    the clear, for this process's view) and its offset once Kafka acked it."""
    record = RotatedToken(
        instance_id=instance_id,
        grant=grant,
        refresh_token=refresh_token,
        rotated_at=rfc3339(datetime.now(UTC)),
    )
    sealed = msgspec.structs.replace(
        record, refresh_token=ring.seal(refresh_token, _context(instance_id))
    )
    meta = await writer.send(topic, instance_id.encode(), TOKENS.encode(sealed))
    return record, int(meta.offset)


class CredentialStore:
    """The newest refresh token of every instance, read from and written to one topic."""

    def __init__(
        self,
        writer: RecordWriter,
        topic: str,
        view: CompactedView[RotatedToken],
        ring: KeyRing,
    ) -> None:
        self._writer = writer
        self.topic = topic
        self.view = view
        self._ring = ring

    def current(self, instance_id: str, configured: HootsuiteCredentials) -> HootsuiteCredentials:
        """`configured`, with the refresh token replaced by its newest rotation if one is stored."""
        record = self.view.get(instance_id)
        if configured.refresh_token is None or record is None:
            return configured
        if record.grant != grant_of(configured):
            return configured  # new credentials were configured since that rotation
        return replace(configured, refresh_token=record.refresh_token)

    async def save(
        self, instance_id: str, configured: HootsuiteCredentials, refresh_token: str
    ) -> None:
        """Keep `refresh_token` as the instance's newest; returns once Kafka acked it."""
        grant = grant_of(configured)
        record, offset = await write_rotated_token(
            self._writer, self.topic, instance_id, grant, refresh_token, ring=self._ring
        )
        # Read-your-writes: a task restarted in this process must not wait for the consumer.
        self.view.apply(instance_id, record, offset)
