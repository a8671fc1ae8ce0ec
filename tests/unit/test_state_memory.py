"""The expiring tables' RocksDB memory: one budget for all partitions (`pipeline.state_memory`)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from faust.stores.rocksdb import RocksDBOptions

from pipeline.state_memory import MIB, StateMemory

PARTITIONS = 8
WRITES = 40_000  # about 6 MiB of memtable entries: three times the budget below
BUDGET = 4 * MIB


def _fill(dbs: list[Any]) -> int:
    """Write WRITES keys over the partitions (each looked up first, as the tables do); the bytes
    the memtables hold afterwards."""
    for n in range(WRITES):
        key = b"\x01" + (7).to_bytes(8, "big") + f'"{uuid.uuid4().hex}"'.encode()
        db = dbs[n % len(dbs)]
        db.get(key)
        db.put(key, b"7")
    return sum(db.property_int_value("rocksdb.cur-size-all-mem-tables") for db in dbs)


def test_memtables_of_all_partitions_stay_within_the_budget(tmp_path: Path) -> None:
    memory = StateMemory(BUDGET)
    dbs = [memory.open(tmp_path / f"p{n}") for n in range(PARTITIONS)]
    held = _fill(dbs)
    # Half the budget for the memtables being written, as much again for those being flushed.
    assert held <= BUDGET, held
    cached, memtables = memory.usage()
    assert memtables <= BUDGET
    assert cached <= BUDGET * 1.25  # data, index and filter blocks and memtables together
    flushed = sum(db.property_int_value("rocksdb.num-live-versions") or 0 for db in dbs)
    assert flushed >= PARTITIONS
    for db in dbs:
        db.close()


def test_faust_options_alone_let_memtables_follow_the_keys(tmp_path: Path) -> None:
    """faust-streaming 0.15.3's `RocksDBOptions` (even with a small block cache) gives each
    partition memtables of its own, outside any cache: they grow with the keys written."""
    options = RocksDBOptions(block_cache_size=BUDGET // PARTITIONS, use_rocksdict=True)
    dbs = [options.open(tmp_path / f"p{n}") for n in range(PARTITIONS)]
    held = _fill(dbs)
    assert held > BUDGET
    for db in dbs:
        db.close()


def test_a_budget_below_one_mib_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 MiB"):
        StateMemory(MIB - 1)
