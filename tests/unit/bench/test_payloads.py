"""bench/payloads.py: the load's occurrences are distinct across runs whose tags share a prefix."""

from __future__ import annotations

from bench.payloads import Instances, Mix, WebhookFactory

INSTANCES = Instances("okto-1", "/webhooks/oktopost/okto-1", "s3cret", "hoot-1", "/webhooks/h")


def event_ids(tag: str, count: int) -> set[str]:
    factory = WebhookFactory(INSTANCES, Mix(duplicate_share=0.0), tag)
    return {event_id for _ in range(count) for event_id in factory.next().event_ids}


def test_soak_rounds_1_and_11_carry_no_common_event() -> None:
    # The soak tags round N "<session>rN": round 1's 15th Hootsuite element once shared its
    # seq_no with round 11's 5th, so a repeat from round 1 was counted again in round 11.
    first, eleventh = event_ids("abcr1", 200), event_ids("abcr11", 200)
    assert len(first) > 200
    assert len(eleventh) > 200
    assert first.isdisjoint(eleventh)
