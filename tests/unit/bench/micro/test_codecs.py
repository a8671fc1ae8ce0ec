from __future__ import annotations

import dataclasses

import msgspec

from bench.micro.codecs import EnvelopeData, TaskData, markdown, measure
from pipeline.delivery.tasks import DeliveryTask
from pipeline.events.envelope import WebhookEnvelope


def test_the_dataclass_candidates_carry_exactly_the_records_fields() -> None:
    """The three ways are measured on the same records: the pipeline's own."""
    for data, struct in ((TaskData, DeliveryTask), (EnvelopeData, WebhookEnvelope)):
        assert [field.name for field in dataclasses.fields(data)] == list(struct.__struct_fields__)
        assert data.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_every_operation_is_timed_for_every_way() -> None:
    results = measure(text_bytes=32, number=50, repeat=1)
    figures = results["us_per_record"]
    assert set(figures) == {"task read", "task write", "envelope read", "envelope write"}
    for ways in figures.values():
        assert set(ways) == {"dict", "dataclass", "msgspec"}
        assert all(value > 0 for value in ways.values())
    table = markdown(results)
    assert table.count("\n") == 5  # header, rule, four operations
    assert msgspec.json.decode(msgspec.json.encode(results))["record_bytes"]["task"] > 0
