"""`polls.raw` values: what a poller saw of one item, typed and frozen.

poller → `polls.raw` (this record) → normalize → `events.normalized` | `events.invalid`. The poller
encodes it; `normalize_poll` decodes it once, and a value of another shape becomes an
`unreadable_record` dead letter there.
"""

from __future__ import annotations

from typing import Any

import msgspec

SNAPSHOT_SCHEMA = "poll-snapshot/1"


class SnapshotOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How the instance wants its events built."""

    include_raw: bool = True


class PollSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A `polls.raw` value (schemas/poll-snapshot.json); `item` None means the item is gone."""

    schema: str = SNAPSHOT_SCHEMA
    provider: str
    instance_id: str
    polled_at: str
    resource: str
    item_id: str
    item: dict[str, Any] | None
    deleted: bool
    options: SnapshotOptions = SnapshotOptions()


_decoder = msgspec.json.Decoder(PollSnapshot)
_encoder = msgspec.json.Encoder()


def decode_snapshot(raw: bytes) -> PollSnapshot:
    """Raises `msgspec.DecodeError` (`ValidationError`: JSON, but not a snapshot)."""
    return _decoder.decode(raw)


def encode_snapshot(snapshot: PollSnapshot) -> bytes:
    return _encoder.encode(snapshot)
