"""docs/reference/topics.md: every topic, from the AsyncAPI document of `topics/`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pipeline.contract.asyncapi import asyncapi_document
from pipeline.docs_gen.markdown import code, header, table
from pipeline.settings import Settings

INTRO = (
    "The topics as `pipeline topics apply` creates them with the default settings (three retry "
    "tiers; `PIPELINE_TOPIC_PREFIX` would prefix every name), from the AsyncAPI 3.0.0 document "
    "that `pipeline topics asyncapi` prints: `topics/manifest.toml` and the JSON Schemas under "
    "`topics/schemas/`. Why the contract is kept this way: [the data contract]"
    "(../explanation/data-contract.md)."
)
DAY_MS = 86_400_000


def render() -> str:
    document = asyncapi_document(Settings.model_construct())  # defaults, whatever the env says
    processes = _processes(document["operations"])
    rows = []
    for name, channel in document["channels"].items():
        kafka = channel["bindings"]["kafka"]
        message_ref = next(iter(channel["messages"].values()))["$ref"]
        message = document["components"]["messages"][message_ref.rsplit("/", 1)[-1]]
        rows.append(
            (
                code(name),
                message["bindings"]["kafka"]["key"].get("description", ""),
                _payload(message),
                kafka["partitions"],
                _cleanup(kafka["topicConfiguration"]),
                ", ".join(processes[name]["send"]) or "-",
                ", ".join(processes[name]["receive"]) or "-",
                channel.get("description", ""),
            )
        )
    columns = (
        "topic",
        "key",
        "value schema",
        "partitions",
        "cleanup, retention",
        "written by",
        "read by",
        "what it holds",
    )
    return (
        header("Topics", "the AsyncAPI document of `topics/`", INTRO) + "\n" + table(columns, rows)
    )


def _processes(operations: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"send": [], "receive": []})
    for operation_id, operation in operations.items():
        channel = operation["channel"]["$ref"].rsplit("/", 1)[-1]
        found[channel][operation["action"]].append(operation_id.split(".", 1)[0])
    return found


def _payload(message: dict[str, Any]) -> str:
    payload = message.get("payload", {})
    return code(payload["$ref"].rsplit("/", 1)[-1] + ".json") if "$ref" in payload else "-"


def _cleanup(config: dict[str, Any]) -> str:
    policy = ",".join(config.get("cleanup.policy", []))
    retention = config.get("retention.ms")
    if retention is None or "delete" not in policy:
        return policy
    days = retention / DAY_MS
    return f"{policy}, {days:g} d"
