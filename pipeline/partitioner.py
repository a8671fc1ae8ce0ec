"""Kafka's default partitioner for every producer of the pipeline, at a fraction of its cost.

A keyed record goes to partition `(murmur2(key) & 0x7FFFFFFF) % partitions`, as the Java client
and aiokafka's `DefaultPartitioner` place it (so any client reading the topics agrees on where a
key lives); a record without a key goes to a random available partition. aiokafka computes
murmur2 in pure Python, byte by byte: about 10 µs for a 50-byte key, and the worker hashes two
mostly new keys per event (its event and its delivery task). `murmurhash2`'s compiled MurmurHash2
takes 0.3 µs (6.4 µs for the word-at-a-time Python this module had before).
"""

from __future__ import annotations

import random

from murmurhash2 import murmurhash2

MURMUR2_SEED = 0x9747B28C  # the Java client's


def murmur2(data: bytes) -> int:
    """The Java client's `Utils.murmur2`, as an unsigned 32-bit integer (aiokafka's form)."""
    return murmurhash2(data, MURMUR2_SEED)


def partition_for(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """An aiokafka `partitioner` (and faust's `producer_partitioner`): `all_partitions` sorted,
    `available` those with a leader."""
    if key is None:
        return int(random.choice(available or all_partitions))  # noqa: S311 - not a secret
    return int(all_partitions[(murmurhash2(key, MURMUR2_SEED) & 0x7FFFFFFF) % len(all_partitions)])
