"""`python -m bench.state.probe PROBES [--tracemalloc N]`: `pipeline worker`, with a memory probe.

For `python -m bench state --probe` (bench/state/pipeline.py): where a worker's memory grows
with the events. The worker is the real one (`pipeline.cli.main(["worker"])`, same settings);
beside it a thread watches `PROBES.request`, and for each new line written there appends one JSON
line to PROBES, with that line as its label: VmRSS, Python's allocated blocks and, per expiring
table, the RocksDB properties that hold memory (summed over its open partitions) and its keys;
with `--tracemalloc N` (frames; it slows the worker) the Python allocations traced and the sites
that grew most since the first probe.
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import orjson

from bench.procstat import malloc_stats, rss_kib
from bench.state.worker import MEMORY_PROPERTIES, traced
from pipeline.cli import main as pipeline_main
from pipeline.runtime.expiring_table import ExpiringStore

POLL_SECONDS = 0.2
TABLES = 2  # dedup and delivered (`pipeline.runtime.tables.Tables`)


def table_memory(store: ExpiringStore) -> dict[str, int]:
    """RocksDB's memory and keys over the store's open partitions."""
    found = dict.fromkeys((name.removeprefix("rocksdb.") for name in MEMORY_PROPERTIES), 0)
    for db in list(store._dbs.values()):  # faust's store keeps no other list of them
        for name in MEMORY_PROPERTIES:
            found[name.removeprefix("rocksdb.")] += db.property_int_value(name) or 0
    found["keys_estimate"] = store.disk_stats()[0]
    found["partitions_open"] = len(store._dbs)
    return found


class Prober:
    """Answers each line written to `<probes>.request` with a probe appended to `probes`."""

    def __init__(self, probes: Path) -> None:
        self.probes = probes
        self.request = probes.with_name(probes.name + ".request")
        self.baseline: tracemalloc.Snapshot | None = None
        self.answered = 0
        self.stores: list[ExpiringStore] = []

    def _find_stores(self) -> list[ExpiringStore]:
        """Found by type (the CLI keeps the app to itself) until both tables have a store:
        faust builds one when its table is first used."""
        if len(self.stores) < TABLES:
            self.stores = [found for found in gc.get_objects() if isinstance(found, ExpiringStore)]
        return self.stores

    def probe(self, label: str) -> dict[str, Any]:
        found: dict[str, Any] = {
            "label": label,
            "rss_kib": rss_kib(),
            "python_blocks": sys.getallocatedblocks(),
            **malloc_stats(),
            "tables": {store.table_name: table_memory(store) for store in self._find_stores()},
        }
        if tracemalloc.is_tracing():
            found |= traced(self.baseline)
            self.baseline = self.baseline or tracemalloc.take_snapshot()
        return found

    def run(self) -> None:
        stop = threading.Event()
        while not stop.wait(POLL_SECONDS):
            if not self.request.exists():
                continue
            labels = self.request.read_text().splitlines()
            for label in labels[self.answered :]:
                with self.probes.open("ab") as out:
                    out.write(orjson.dumps(self.probe(label)) + b"\n")
            self.answered = max(self.answered, len(labels))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.state.probe", description=__doc__)
    parser.add_argument("probes", type=Path, help="the JSON-lines file of probes")
    parser.add_argument("--tracemalloc", type=int, default=0, help="frames traced (0: off)")
    args = parser.parse_args(argv)
    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)
    threading.Thread(target=Prober(args.probes).run, name="probe", daemon=True).start()
    return pipeline_main(["worker"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
