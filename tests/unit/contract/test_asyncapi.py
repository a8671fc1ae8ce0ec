"""`pipeline topics asyncapi`: a valid AsyncAPI 3.0.0 document of every topic, standing alone.

Validated against the official JSON Schema of AsyncAPI 3.0.0 from npm's `@asyncapi/specs`, which
`make unit` and `make test` fetch into .cache/ at the version the Makefile pins.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from pipeline.cli import main
from pipeline.contract.asyncapi import STABLE_KEYWORDS, asyncapi_document
from pipeline.contract.topics import load_manifest
from pipeline.delivery.tasks import encode, new_task
from pipeline.settings import REPO_ROOT, load_settings


def official_schema() -> dict[str, Any]:
    pinned = re.search(r"^ASYNCAPI_SPECS := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert pinned is not None
    path = REPO_ROOT / ".cache" / f"asyncapi-specs-{pinned[1]}" / "asyncapi-3.0.0.json"
    assert path.is_file(), f"{path} is missing: `make asyncapi-schema` fetches it"
    schema: dict[str, Any] = orjson.loads(path.read_bytes())
    return schema


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_is_valid_asyncapi_3() -> None:
    document = asyncapi_document(load_settings())
    validator = Draft7Validator(official_schema())
    validator.validate(document)
    assert document["asyncapi"] == "3.0.0"
    document["operations"]["ingress.send.webhooks.raw"]["action"] = "publish"  # AsyncAPI 2's
    assert not validator.is_valid(document)


def test_the_document_stands_alone_every_ref_resolving_inside_it() -> None:
    document = asyncapi_document(load_settings())
    found = list(refs(document))
    assert found
    for ref in found:
        assert ref.startswith("#/"), ref
        assert resolve(document, ref) is not None


def test_one_channel_per_topic_with_prefix_and_retry_tiers() -> None:
    settings = load_settings(topic_prefix="team-a.", retry_schedule="1,2,3,4")
    document = asyncapi_document(settings)
    specs = load_manifest(settings)
    assert {channel["address"] for channel in document["channels"].values()} == {
        spec.name for spec in specs
    }
    tier = document["channels"]["deliveries.retry.4"]
    assert tier["address"] == "team-a.deliveries.retry.4"
    assert tier["bindings"]["kafka"]["partitions"] == 4
    assert tier["messages"] == {
        "deliveries.retry": {"$ref": "#/components/messages/deliveries.retry"}
    }
    message = document["components"]["messages"]["deliveries.retry"]
    key = message["bindings"]["kafka"]["key"]["description"]
    assert key == "the subscription id, a space and the event's subject (UTF-8)"
    assert message["payload"] == {"$ref": "#/components/schemas/delivery-task"}


def test_operations_say_who_writes_and_who_reads() -> None:
    operations = asyncapi_document(load_settings())["operations"]
    assert operations["ingress.send.webhooks.raw"]["action"] == "send"
    assert operations["worker.receive.webhooks.raw"]["action"] == "receive"
    assert operations["data-teams.receive.events.normalized"]["channel"] == {
        "$ref": "#/channels/events.normalized"
    }
    assert "worker.receive.deliveries.retry.3" in operations


def test_a_payload_validates_what_the_pipeline_writes() -> None:
    document = asyncapi_document(load_settings())
    registry: Registry[Any] = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(document, default_specification=DRAFT7)
    )
    payload = {"$ref": "urn:asyncapi#/components/schemas/delivery-task"}
    validator = Draft7Validator(payload, registry=registry)
    event = {
        "specversion": "1.0",
        "id": "e1",
        "source": "/instances/okto1",
        "type": "post.sent",
        "subject": "posts/P1",
        "time": "2026-12-06T05:00:00.000Z",
        "datacontenttype": "application/json",
        "provider": "oktopost",
        "providerevent": "postSent",
        "instanceid": "okto1",
        "receivedat": "2026-12-06T05:00:01.000Z",
        "data": {"post_id": "P1"},
    }
    validator.validate(orjson.loads(encode(new_task("sub1", event, reason="live"))))
    invalid = new_task("sub1", {**event, "source": 7}, reason="live")
    assert not validator.is_valid(orjson.loads(encode(invalid)))


def test_messages_declare_their_headers_and_the_normalized_topic_is_structured_mode() -> None:
    messages = asyncapi_document(load_settings())["components"]["messages"]
    normalized = messages["events.normalized"]
    assert normalized["contentType"] == "application/cloudevents+json"
    headers = Draft7Validator(normalized["headers"])
    assert headers.is_valid({"content-type": "application/cloudevents+json; charset=utf-8"})
    assert not headers.is_valid({"content-type": "application/json"})
    assert not headers.is_valid({})
    assert messages["deliveries.retry"]["contentType"] == "application/json"
    assert messages["deliveries.retry"]["headers"]["properties"] == {
        "content-type": {"type": "string", "const": "application/json"}
    }
    assert "headers" not in messages["pollers.shards"]  # it holds no records


def _keywords(schema: Any) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        yield key
        if key in ("properties", "patternProperties"):
            for field in value.values():
                yield from _keywords(field)
        elif key in ("items", "additionalProperties", "propertyNames", "not", "if", "then", "else"):
            yield from _keywords(value)
        elif key in ("anyOf", "oneOf", "allOf"):
            for branch in value:
                yield from _keywords(branch)


@pytest.mark.parametrize(
    "schema",
    sorted(
        [
            *(REPO_ROOT / "topics/schemas").glob("*.json"),
            *(REPO_ROOT / "topics/events").glob("*.json"),
        ]
    ),
    ids=lambda path: path.name,
)
def test_schemas_keep_to_keywords_that_mean_the_same_in_draft_07(schema: Path) -> None:
    """So the embedded copies mean in AsyncAPI (draft-07 based) what they mean in topics/."""
    document = orjson.loads(schema.read_bytes())
    assert set(_keywords(document)) <= STABLE_KEYWORDS
    Draft7Validator.check_schema(document)


def test_the_command_prints_or_writes_the_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["topics", "asyncapi"]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    target = tmp_path / "contract.json"
    assert main(["topics", "asyncapi", "-o", str(target)]) == 0
    assert orjson.loads(target.read_bytes()) == printed
    assert set(printed["channels"]) >= {"webhooks.raw", "deliveries.dead", "pollers.shards"}


def test_output_is_refused_for_the_other_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "list", "-o", "x.json"]) == 2
    assert "-o/--output is for `pipeline topics asyncapi`" in capsys.readouterr().err
