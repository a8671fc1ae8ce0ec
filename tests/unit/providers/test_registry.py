"""pipeline.providers.registry: what the ingress and the normalize agent look providers up by."""

from __future__ import annotations

from pipeline.events.cloudevent import Lineage
from pipeline.providers.registry import PROVIDERS, SNAPSHOT_NORMALIZERS
from pipeline.providers.snapshot import PollSnapshot


def test_only_hootsuite_is_acknowledged_with_an_empty_body() -> None:
    # The ingress reads this flag instead of naming the provider.
    empty = {name for name, provider in PROVIDERS.items() if provider.empty_acknowledgement}
    assert empty == {"hootsuite"}


def test_hootsuite_message_snapshots_have_a_normalizer() -> None:
    normalize = SNAPSHOT_NORMALIZERS[("hootsuite", "message")]
    lineage = Lineage("hootsuite", "i1", "2026-03-02T09:00:00.000Z")
    snapshot = PollSnapshot(
        provider="hootsuite",
        instance_id="i1",
        polled_at="2026-03-02T09:00:00.000Z",
        resource="message",
        item_id="m1",
        item={"id": "m1", "state": "SENT"},
        deleted=False,
    )
    [event] = normalize(snapshot, lineage).events
    assert (event["type"], event["subject"]) == ("post.sent", "posts/m1")
