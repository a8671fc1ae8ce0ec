"""pipeline.partitioner: Kafka's default placement of keys, computed faster."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from pipeline.partitioner import murmur2, partition_for
from pipeline.runtime.app import create_app
from pipeline.settings import load_settings


@pytest.mark.parametrize(
    ("key", "signed"),
    [  # the Java client's own test vectors (kafka's UtilsTest.testMurmur2)
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        ("abc", 479470107),
    ],
)
def test_murmur2_is_the_java_clients(key: str, signed: int) -> None:
    assert murmur2(key.encode()) == signed & 0xFFFFFFFF


def test_every_key_lands_where_aiokafka_places_it() -> None:
    rng = random.Random(7)  # noqa: S311 - test keys, not secrets
    for _ in range(3000):
        key = rng.randbytes(rng.randrange(0, 90))
        assert murmur2(key) == aiokafka_murmur2(key)
        partitions = list(range(rng.choice([1, 3, 8, 12, 64])))
        assert partition_for(key, partitions, partitions) == DefaultPartitioner()(
            key, partitions, partitions
        )


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    chosen = {partition_for(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert chosen == {1, 3}
    assert partition_for(None, [0, 1], []) in {0, 1}  # none has a leader: any


def test_the_worker_app_places_keys_with_it(tmp_path: Path) -> None:
    app = create_app(load_settings(data_dir=tmp_path, app_id="partitioner-test"))
    assert app.producer._settings_default()["partitioner"] is partition_for  # its aiokafka's
