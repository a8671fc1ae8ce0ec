"""Instance → shard: stable, spread out, and the partition Kafka would key the id to."""

from __future__ import annotations

from collections import Counter

from pipeline.partitioner import partition_for
from pipeline.pollers.shards import shard_of


def test_an_instance_maps_to_the_partition_its_id_keys_to() -> None:
    partitions = list(range(12))
    for n in range(200):
        instance_id = f"hs-{n:04d}"
        assert shard_of(instance_id, 12) == partition_for(instance_id.encode(), partitions, [])


def test_a_thousand_instances_spread_over_every_shard() -> None:
    counts = Counter(shard_of(f"bench-{n}", 12) for n in range(1000))
    assert set(counts) == set(range(12))
    assert max(counts.values()) < 2 * min(counts.values())
