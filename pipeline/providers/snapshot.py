"""`polls.raw` values: what a poller saw of one item, typed and frozen.

poller → `polls.raw` (this record) → normalize → `events.normalized` | `events.invalid`. The poller
encodes it; `normalize_poll` decodes it once, and a value of another shape becomes an
`unreadable_record` dead letter there.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pipeline.contract.codec import Codec

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


SNAPSHOTS = Codec(PollSnapshot)  # a poll's snapshot
decode_snapshot = SNAPSHOTS.decode
encode_snapshot = SNAPSHOTS.encode
