from __future__ import annotations

import msgspec
import orjson

from bench.codecs import TaskStruct, markdown, measure, sample_event
from pipeline.delivery.outcome import Outcome, OutcomeKind
from pipeline.delivery.tasks import encode, new_task, retry_task


def test_the_measured_struct_reads_real_tasks_exactly() -> None:
    """The candidate is measured on the records the pipeline writes, not on a look-alike."""
    live = new_task("sub-1", sample_event(64), reason="live")
    retried = retry_task(live, 5.0, Outcome(OutcomeKind.RETRY, 503, None, None))
    for task in (live, retried):
        written = encode(task)
        decoded = msgspec.json.decode(written, type=TaskStruct)
        assert orjson.loads(msgspec.json.encode(decoded)) == orjson.loads(written)


def test_every_operation_is_timed_for_every_way() -> None:
    results = measure(text_bytes=32, number=50, repeat=1)
    figures = results["us_per_record"]
    assert set(figures) == {"task read", "task write", "envelope read", "envelope write"}
    for ways in figures.values():
        assert set(ways) == {"dict", "dataclass", "msgspec"}
        assert all(value > 0 for value in ways.values())
    table = markdown(results)
    assert table.count("\n") == 5  # header, rule, four operations
