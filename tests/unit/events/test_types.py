"""pipeline.events.types: every type names an entity, every entity has its id field."""

from __future__ import annotations

import pytest

from pipeline.events.types import EVENT_TYPES, ID_FIELDS, entity_of, is_event_type
from pipeline.settings import REPO_ROOT


def test_every_type_has_an_entity_with_an_id_field_and_a_schema_file() -> None:
    for event_type, entity in EVENT_TYPES.items():
        assert entity_of(event_type) == entity
        assert ID_FIELDS[entity].endswith("_id")
        assert (REPO_ROOT / "topics" / "events" / f"{event_type}.json").is_file()
    assert set(ID_FIELDS) == set(EVENT_TYPES.values())


def test_an_unknown_type_has_no_entity() -> None:
    with pytest.raises(KeyError):
        entity_of("post.exploded")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("post.sent", True), ("lead.created", True), ("post.*", False), ("", False), (1, False)],
)
def test_is_event_type(value: object, expected: bool) -> None:
    assert is_event_type(value) is expected
