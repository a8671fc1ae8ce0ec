"""`topics/` → an AsyncAPI 3.0.0 document (`pipeline topics asyncapi`): the contract for data teams.

One channel per topic as the cluster names it (prefix applied, one per retry tier, as `pipeline
topics apply` creates them), its Kafka bindings (partitions, cleanup policy, retention), one
message whose key is described by the Kafka message binding, whose headers (`content-type`) are a
schema of constants and whose payload is the topic's JSON Schema, and one operation per process
the manifest says writes (`send`) or reads (`receive`) it.

The schemas are embedded under `components.schemas`, their `$ref`s between files rewritten to
point there, so the document stands alone. They keep to the keywords that mean the same in JSON
Schema draft 2020-12 (how topics/ declares them) and draft-07 (what AsyncAPI's default schema
format extends); `STABLE_KEYWORDS` lists them and a test holds every schema to it.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson

from pipeline.contract.headers import CONTENT_TYPE
from pipeline.contract.topics import DeclaredTopic, TopicSpec, declared_topics, load_manifest
from pipeline.settings import Settings

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DEFAULT_CONTENT_TYPE = "application/json"
STABLE_KEYWORDS = frozenset(
    {
        "$schema", "$id", "$ref", "title", "description", "default", "examples", "type", "enum",
        "const", "properties", "patternProperties", "additionalProperties", "propertyNames",
        "required", "items", "minItems", "maxItems", "uniqueItems", "pattern", "minLength",
        "maxLength", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "multipleOf", "anyOf", "oneOf", "allOf", "not", "if", "then", "else", "contentEncoding",
        "contentMediaType",
    }
)  # fmt: skip


def asyncapi_document(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI document of `settings.topics_dir`, with `settings`' prefix and retry tiers."""
    declared = declared_topics(settings.topics_dir)
    schemas: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in load_manifest(settings):
        topic = _declaration(spec, declared, settings)
        channel_id = spec.name.removeprefix(settings.topic_prefix)
        message_id = topic.name.replace(".{tier}", "")
        if spec.value_schema is not None:
            embed(spec.value_schema, schemas)
        messages[message_id] = _message(spec, message_id)
        channels[channel_id] = _channel(spec, message_id)
        operations.update(_operations(topic, channel_id, message_id))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Social events pipeline: topics",
            "version": version("social-events-pipeline"),
            "description": "Every Kafka topic of the pipeline, its key and its value schema, "
            "generated from topics/manifest.toml and topics/schemas/.",
        },
        "servers": {
            "kafka": {
                "host": settings.kafka_bootstrap,
                "protocol": "kafka",
                "description": "The brokers of PIPELINE_KAFKA_BOOTSTRAP.",
            }
        },
        "defaultContentType": DEFAULT_CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _declaration(
    spec: TopicSpec, declared: dict[str, DeclaredTopic], settings: Settings
) -> DeclaredTopic:
    """The manifest entry a cluster-side topic comes from (a retry tier's: the `{tier}` one)."""
    name = spec.name.removeprefix(settings.topic_prefix)
    if name in declared:
        return declared[name]
    for topic in declared.values():
        pattern = re.escape(topic.name).replace(re.escape("{tier}"), "[0-9]+")
        if topic.per_retry_tier and re.fullmatch(pattern, name):
            return topic
    raise LookupError(f"{spec.name} is in no manifest entry")


def _channel(spec: TopicSpec, message_id: str) -> dict[str, Any]:
    description = spec.description
    if spec.cleanup == "compact":
        description += " Compacted: a null value (tombstone) deletes its key."
    return {
        "address": spec.name,
        "description": description,
        "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
        "bindings": {
            "kafka": {
                "topic": spec.name,
                "partitions": spec.partitions,
                "topicConfiguration": {
                    "cleanup.policy": [spec.cleanup],
                    "retention.ms": spec.retention_ms,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _message(spec: TopicSpec, message_id: str) -> dict[str, Any]:
    declared = dict(spec.headers)
    message: dict[str, Any] = {
        "name": message_id,
        # The payload's media type; the header's parameters (a charset) are not part of it.
        "contentType": declared.get(CONTENT_TYPE, DEFAULT_CONTENT_TYPE).partition(";")[0].strip(),
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"the {spec.key} (UTF-8)"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    if declared:
        message["headers"] = {
            "type": "object",
            "description": "Kafka record headers: every record with a value carries them.",
            "required": list(declared),
            "properties": {
                name: {"type": "string", "const": value} for name, value in declared.items()
            },
        }
    if spec.value_schema is not None:
        message["payload"] = {"$ref": f"#/components/schemas/{spec.value_schema.stem}"}
    return message


def _operations(topic: DeclaredTopic, channel_id: str, message_id: str) -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for action, who in [("send", topic.written_by), ("receive", topic.read_by)]:
        for process in who:
            operations[f"{process.replace(' ', '-')}.{action}.{channel_id}"] = {
                "action": action,
                "title": f"{process} {'writes' if action == 'send' else 'reads'} {channel_id}",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"}],
            }
    return operations


def embed(path: Path, schemas: dict[str, Any]) -> None:
    """`path`'s schema and those it refers to, under `components.schemas` by file stem."""
    if path.stem in schemas:
        return
    schema = orjson.loads(path.read_bytes())
    schema.pop("$schema", None)
    schema.pop("$id", None)  # the document's own base applies: `#/components/…` resolves
    schemas[path.stem] = _rewritten(schema, path.parent, schemas)


def _rewritten(node: Any, folder: Path, schemas: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_rewritten(item, folder, schemas) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewritten(value, folder, schemas) for key, value in node.items()}
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        target = folder / ref
        embed(target, schemas)
        rewritten["$ref"] = f"#/components/schemas/{target.stem}"
    return rewritten
