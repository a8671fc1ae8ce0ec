"""pipeline.contract.compatibility: the contract against its released version; what breaks."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.contract.compatibility import check
from pipeline.contract.topics import declared_topics
from pipeline.events.types import EVENT_TYPES
from pipeline.settings import REPO_ROOT

Edit = Callable[[dict[str, Any]], None]


def test_the_contract_is_compatible_with_its_released_version() -> None:
    breaks = check(REPO_ROOT / "topics")
    assert breaks == [], "\n".join(str(found) for found in breaks)


@pytest.fixture
def topics(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "topics", tmp_path / "topics")
    return tmp_path / "topics"


def edit(topics: Path, file: str, change: Edit) -> None:
    path = topics / file
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema))


def messages(topics: Path) -> list[str]:
    return [str(found) for found in check(topics)]


def test_a_removed_required_field_names_every_topic_and_its_consumers(topics: Path) -> None:
    def drop_attempt(schema: dict[str, Any]) -> None:
        schema["required"].remove("attempt")
        del schema["properties"]["attempt"]

    edit(topics, "schemas/delivery-task.json", drop_attempt)
    assert messages(topics) == [
        "deliveries: schemas/delivery-task.json: required field 'attempt' removed (breaks worker)",
        "deliveries.retry.{tier}: schemas/delivery-task.json: required field 'attempt' removed"
        " (breaks worker)",
    ]


def test_a_required_field_made_optional_breaks(topics: Path) -> None:
    edit(topics, "schemas/webhook-envelope.json", lambda s: s["required"].remove("headers"))
    assert messages(topics) == [
        "webhooks.raw: schemas/webhook-envelope.json: required field 'headers' made optional"
        " (breaks worker)"
    ]


@pytest.mark.parametrize(
    ("file", "field", "before", "after", "message"),
    [
        (
            "schemas/delivery-attempt.json",
            "error",
            ["string", "null"],
            "string",
            "deliveries.attempts: schemas/delivery-attempt.json#/properties/error:"
            " type narrowed from [null, string] to string (breaks ingress)",
        ),
        (
            "schemas/delivery-attempt.json",
            "duration_seconds",
            "number",
            "integer",
            "deliveries.attempts: schemas/delivery-attempt.json#/properties/duration_seconds:"
            " type narrowed from number to integer (breaks ingress)",
        ),
        (
            "schemas/instance-health.json",
            "instance_id",
            "string",
            ["string", "null"],
            "instances.health: schemas/instance-health.json#/properties/instance_id:"
            " type widened from string to [null, string] (breaks ingress, poller)",
        ),
    ],
)
def test_a_changed_type_breaks(
    topics: Path, *, file: str, field: str, before: Any, after: Any, message: str
) -> None:
    def retype(schema: dict[str, Any]) -> None:
        assert schema["properties"][field]["type"] == before
        schema["properties"][field]["type"] = after

    edit(topics, file, retype)
    assert messages(topics) == [message]


def test_an_enum_losing_a_value_breaks_and_gaining_one_does_not(topics: Path) -> None:
    def providers(schema: dict[str, Any]) -> None:
        kept = [p for p in schema["properties"]["provider"]["enum"] if p != "standard"]
        schema["properties"]["provider"]["enum"] = [*kept, "mastodon"]

    edit(topics, "schemas/webhook-envelope.json", providers)
    assert messages(topics) == [
        "webhooks.raw: schemas/webhook-envelope.json#/properties/provider:"
        " enum lost 'standard' (breaks worker)"
    ]


def test_a_new_required_field_breaks_and_a_new_optional_one_does_not(topics: Path) -> None:
    def add_fields(schema: dict[str, Any]) -> None:
        schema["properties"]["priority"] = {"type": "integer"}
        schema["properties"]["note"] = {"type": "string"}
        schema["required"].append("priority")

    edit(topics, "schemas/poller-state.json", add_fields)
    assert messages(topics) == [
        "pollers.state: schemas/poller-state.json: new required field 'priority'"
        " (records already written lack it) (breaks poller)"
    ]


def test_a_changed_const_breaks(topics: Path) -> None:
    def bump(schema: dict[str, Any]) -> None:
        schema["properties"]["schema"]["const"] = "invalid-record/2"

    edit(topics, "schemas/invalid-record.json", bump)
    assert messages(topics) == [
        "events.invalid: schemas/invalid-record.json#/properties/schema:"
        " const changed from 'invalid-record/1' to 'invalid-record/2' (breaks operators)"
    ]


def test_a_renamed_event_type_breaks_the_normalized_topics_consumers(topics: Path) -> None:
    (topics / "events/post.sent.json").rename(topics / "events/post.dispatched.json")
    assert messages(topics) == [
        "events.normalized: events/post.sent.json: event type 'post.sent' removed or renamed"
        " (breaks data teams, ingress)"
    ]


def test_an_event_types_schema_is_compared_too(topics: Path) -> None:
    def retype(schema: dict[str, Any]) -> None:
        schema["properties"]["data"]["properties"]["post_id"]["type"] = "integer"

    edit(topics, "events/post.sent.json", retype)
    [message] = messages(topics)
    assert message.startswith(
        "events.normalized: events/post.sent.json#/properties/data/properties/post_id:"
        " type narrowed from "
    )


def test_a_break_in_a_referenced_schema_reaches_every_topic_that_refers_to_it(
    topics: Path,
) -> None:
    edit(topics, "schemas/cloudevent.json", lambda s: s["required"].remove("subject"))
    expected = "schemas/cloudevent.json: required field 'subject' made optional"
    assert messages(topics) == [
        f"events.normalized: {expected} (breaks data teams, ingress)",
        f"deliveries: {expected} (breaks worker)",
        f"deliveries.retry.{{tier}}: {expected} (breaks worker)",
        f"deliveries.dead: {expected} (breaks ingress)",
        f"deliveries.attempts: {expected} (breaks ingress)",
    ]


def test_a_removed_topic_breaks_its_readers(topics: Path) -> None:
    manifest = topics / "manifest.toml"
    text = manifest.read_text()
    start = text.index('[[topic]]\nname = "pollers.credentials"')
    end = text.index("[[topic]]", start + 1)
    manifest.write_text(text[:start] + text[end:])
    assert messages(topics) == [
        "pollers.credentials: topic removed from the manifest (breaks poller)"
    ]


def _new_version(topics: Path, name: str, record_version: str) -> None:
    """delivery-task.json's next version, narrowed, under `name`, which the manifest names."""
    schema = json.loads((topics / "schemas/delivery-task.json").read_text())
    schema["properties"]["last_error"]["type"] = "string"
    schema["properties"]["schema"]["const"] = record_version
    (topics / "schemas" / name).write_text(json.dumps(schema))
    manifest = topics / "manifest.toml"
    manifest.write_text(
        manifest.read_text().replace("schemas/delivery-task.json", f"schemas/{name}")
    )


def test_a_deliberate_break_passes_as_a_new_version(topics: Path) -> None:
    _new_version(topics, "delivery-task-v2.json", "delivery-task/2")
    assert messages(topics) == []


def test_a_new_version_must_say_so_in_its_records(topics: Path) -> None:
    _new_version(topics, "delivery-task-v2.json", "delivery-task/1")
    expected = "schemas/delivery-task-v2.json: new version keeps the records' schema"
    assert messages(topics) == [
        f"deliveries: {expected} 'delivery-task/1' (breaks worker)",
        f"deliveries.retry.{{tier}}: {expected} 'delivery-task/1' (breaks worker)",
    ]


def test_another_file_name_is_not_a_new_version(topics: Path) -> None:
    _new_version(topics, "delivery-task-new.json", "delivery-task/2")
    expected = (
        "value schema schemas/delivery-task.json replaced by schemas/delivery-task-new.json,"
        " not a new version (name it schemas/delivery-task-v2.json)"
    )
    assert messages(topics) == [
        f"deliveries: {expected} (breaks worker)",
        f"deliveries.retry.{{tier}}: {expected} (breaks worker)",
    ]


def test_every_released_schema_is_kept_beside_the_released_manifest() -> None:
    released = REPO_ROOT / "topics" / "released"
    named = {t.value_schema for t in declared_topics(released).values() if t.value_schema}
    assert named
    assert all((released / schema).is_file() for schema in named)
    assert len(list((released / "events").glob("*.json"))) == len(EVENT_TYPES)


def test_a_part_moved_into_a_file_of_its_own_is_compared_through_the_ref(topics: Path) -> None:
    envelope = json.loads((topics / "schemas/webhook-envelope.json").read_text())
    options = envelope["properties"]["options"]
    (topics / "schemas/envelope-options.json").write_text(json.dumps(options))
    envelope["properties"]["options"] = {"$ref": "envelope-options.json"}
    (topics / "schemas/webhook-envelope.json").write_text(json.dumps(envelope))
    assert messages(topics) == []
    edit(topics, "schemas/envelope-options.json", lambda s: s.update(required=["identity"]))
    assert messages(topics) == [
        "webhooks.raw: schemas/envelope-options.json: new required field 'identity'"
        " (records already written lack it) (breaks worker)"
    ]


def _release(topics: Path) -> None:
    """The current contract as released (the released copy predates the headers)."""
    shutil.copy(topics / "manifest.toml", topics / "released" / "manifest.toml")


def test_a_header_removed_or_changed_breaks_and_a_new_one_does_not(topics: Path) -> None:
    _release(topics)
    manifest = topics / "manifest.toml"
    text = manifest.read_text()
    structured = 'headers = { content-type = "application/cloudevents+json; charset=utf-8" }\n'
    json_header = 'headers = { content-type = "application/json" }'
    text = text.replace(structured, "").replace(
        json_header, 'headers = { content-type = "text/plain" }', 1
    )
    text = text.replace(
        json_header, 'headers = { content-type = "application/json", x-team = "a" }'
    )
    manifest.write_text(text)
    assert messages(topics) == [
        "webhooks.raw: manifest.toml: header 'content-type' changed from 'application/json'"
        " to 'text/plain' (breaks worker)",
        "events.normalized: manifest.toml: header 'content-type' removed (breaks data teams,"
        " ingress)",
    ]


def test_a_header_change_breaks_a_new_schema_version_too(topics: Path) -> None:
    _release(topics)
    _new_version(topics, "delivery-task-v2.json", "delivery-task/2")
    manifest = topics / "manifest.toml"
    start = manifest.read_text().index('name = "deliveries"')
    text = manifest.read_text()
    manifest.write_text(
        text[:start]
        + text[start:].replace('content-type = "application/json"', 'content-type = "x/y"', 1)
    )
    assert messages(topics) == [
        "deliveries: manifest.toml: header 'content-type' changed from 'application/json'"
        " to 'x/y' (breaks worker)"
    ]
