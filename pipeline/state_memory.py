"""One RocksDB memory budget for every partition of the worker's expiring tables.

faust-streaming 0.15.3 (`RocksDBOptions.as_options`) gives each table partition a block cache of
its own and memtables of its own, and leaves index and filter blocks outside any cache: a worker's
memory then grows with the partitions it owns and, through the index and filter blocks of its
SST files, with the keys the window holds. Here every partition's database shares one LRU cache
of `PIPELINE_STATE_CACHE_MB`: data blocks, index and filter blocks (partitioned, so one large
filter never has to fit whole) and the memtables (a write buffer manager charges them to the
same cache and flushes the largest one when they pass half of it). The tables' memory is that one
figure, whatever the number of keys or partitions.
"""

from __future__ import annotations

from pathlib import Path

import rocksdict

MIB = 1024 * 1024
MEMTABLE_SHARE = 2  # memtables may take up to 1/MEMTABLE_SHARE of the budget
MEMTABLE_CAP = 4 * MIB  # one memtable at most, and at most 1/8 of the memtables' share
TARGET_FILE = 16 * MIB
BLOOM_BITS = 10  # bits per key: most lookups are misses (new events), answered by the filter


class StateMemory:
    """The block cache and write buffer manager shared by every partition of this process."""

    def __init__(self, budget_bytes: int) -> None:
        if budget_bytes < MIB:
            raise ValueError(f"a state memory budget is at least 1 MiB, not {budget_bytes} bytes")
        self.budget_bytes = budget_bytes
        self.cache = rocksdict.Cache(budget_bytes)
        self.memtable_bytes = budget_bytes // MEMTABLE_SHARE
        self.write_buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            self.memtable_bytes, False, self.cache
        )

    def options(self) -> rocksdict.Options:
        """Options of one partition's database, drawing on the shared budget."""
        table = rocksdict.BlockBasedOptions()
        table.set_block_cache(self.cache)
        table.set_bloom_filter(BLOOM_BITS, False)
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        table.set_index_type(rocksdict.BlockBasedIndexType.two_level_index_search())
        table.set_partition_filters(True)
        table.set_pin_top_level_index_and_filter(True)
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_write_buffer_size(min(MEMTABLE_CAP, self.memtable_bytes // 8))
        options.set_max_write_buffer_number(2)
        options.set_write_buffer_manager(self.write_buffers)
        options.set_target_file_size_base(TARGET_FILE)
        options.set_block_based_table_factory(table)
        return options

    def open(self, path: Path) -> rocksdict.Rdict:
        db = rocksdict.Rdict(
            str(path), options=self.options(), access_type=rocksdict.AccessType.read_write()
        )
        db.set_read_options(rocksdict.ReadOptions())
        return db

    def usage(self) -> tuple[int, int]:
        """(bytes in the cache, memtables included; bytes of memtables)."""
        return self.cache.get_usage(), self.write_buffers.get_usage()
