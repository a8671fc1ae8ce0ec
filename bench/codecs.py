"""`python -m bench codecs`: what typed records would cost on the hot path, before choosing them.

Issue 17 asks for typed values on every topic, "chosen by measurement, not taste". This times, per
record, the three candidate ways of reading and writing the two records every event crosses most
often (a delivery task, read by the deliver agent and written by routing, and the webhook envelope,
written by the ingress and read by normalize):

- `dict`: `orjson.loads` / `orjson.dumps` of plain dicts, read by string key (what the code does);
- `dataclass`: the same JSON through orjson, then a frozen dataclass built from the dict (orjson
  writes dataclasses natively);
- `msgspec`: a frozen `msgspec.Struct` decoded and encoded by msgspec's typed JSON codec, which
  also checks the types while decoding.

"read" is decoding plus reading the fields the deliver agent reads; "write" is encoding; figures
are microseconds per record (best of `--repeat` runs of `--number` records), in this process.
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson

from bench.payloads import filler_text
from pipeline.delivery.tasks import encode, new_task

RESULTS = Path(__file__).parent / "results"


class EventStruct(msgspec.Struct, frozen=True):
    specversion: str
    id: str
    source: str
    type: str
    subject: str
    time: str
    datacontenttype: str
    provider: str
    providerevent: str
    instanceid: str
    receivedat: str
    data: dict[str, Any]


class TaskStruct(msgspec.Struct, frozen=True):
    schema: str
    delivery_id: str
    subscription_id: str
    webhook_id: str
    event: EventStruct
    attempt: int
    not_before: str | None
    reason: str
    force: bool
    routed_at: str
    last_error: str | None


class EnvelopeStruct(msgspec.Struct, frozen=True):
    schema: str
    request_id: str
    provider: str
    instance_id: str
    received_at: str
    headers: dict[str, str]
    body: str
    options: dict[str, Any]


@dataclass(frozen=True)
class EventData:
    specversion: str
    id: str
    source: str
    type: str
    subject: str
    time: str
    datacontenttype: str
    provider: str
    providerevent: str
    instanceid: str
    receivedat: str
    data: dict[str, Any]


@dataclass(frozen=True)
class TaskData:
    schema: str
    delivery_id: str
    subscription_id: str
    webhook_id: str
    event: EventData
    attempt: int
    not_before: str | None
    reason: str
    force: bool
    routed_at: str
    last_error: str | None


@dataclass(frozen=True)
class EnvelopeData:
    schema: str
    request_id: str
    provider: str
    instance_id: str
    received_at: str
    headers: dict[str, str]
    body: str
    options: dict[str, Any]


def sample_event(text_bytes: int) -> dict[str, Any]:
    """A normalized Oktopost `post.sent` as the normalize agent writes it."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "specversion": "1.0",
        "id": "evt-0PS1-sent-1764000000",
        "source": "oktopost/i-1234",
        "type": "post.sent",
        "subject": "posts/0PS1",
        "time": now,
        "datacontenttype": "application/json",
        "provider": "oktopost",
        "providerevent": "postSent",
        "instanceid": "i-1234",
        "receivedat": now,
        "data": {
            "post_id": "0PS1",
            "network": "LinkedIn",
            "campaign_id": "0CM1",
            "sent_at": now,
            "raw": {"postId": "0PS1", "message": filler_text(text_bytes)},
        },
    }


def sample_envelope(text_bytes: int) -> dict[str, Any]:
    body = orjson.dumps({"event": "postSent", "data": sample_event(text_bytes)["data"]["raw"]})
    return {
        "schema": "webhook-envelope/1",
        "request_id": "8d5f0c1e2b3a4f6e9d7c5b3a1f0e2d4c",
        "provider": "oktopost",
        "instance_id": "i-1234",
        "received_at": datetime.now(UTC).isoformat(),
        "headers": {"content-type": "application/json", "x-oktopost-signature": "ab" * 32},
        "body": body.decode(),
        "options": {},
    }


def _task_fields(task: Any) -> tuple[Any, ...]:
    return (task.subscription_id, task.webhook_id, task.attempt, task.force, task.event.type)


def _candidates(task: bytes, envelope: bytes) -> dict[str, dict[str, Callable[[], Any]]]:
    task_decoder = msgspec.json.Decoder(TaskStruct)
    envelope_decoder = msgspec.json.Decoder(EnvelopeStruct)
    encoder = msgspec.json.Encoder()
    as_dict = orjson.loads(task)
    as_struct = task_decoder.decode(task)
    as_data = _task_data(as_dict)
    envelope_dict = orjson.loads(envelope)
    envelope_struct = envelope_decoder.decode(envelope)
    envelope_data = EnvelopeData(**envelope_dict)

    def dict_read() -> Any:
        value = orjson.loads(task)
        event = value["event"]
        return (value["subscription_id"], value["webhook_id"], value["attempt"], event["type"])

    return {
        "task read": {
            "dict": dict_read,
            "dataclass": lambda: _task_fields(_task_data(orjson.loads(task))),
            "msgspec": lambda: _task_fields(task_decoder.decode(task)),
        },
        "task write": {
            "dict": lambda: orjson.dumps(as_dict),
            "dataclass": lambda: orjson.dumps(as_data),
            "msgspec": lambda: encoder.encode(as_struct),
        },
        "envelope read": {
            "dict": lambda: orjson.loads(envelope)["body"],
            "dataclass": lambda: EnvelopeData(**orjson.loads(envelope)).body,
            "msgspec": lambda: envelope_decoder.decode(envelope).body,
        },
        "envelope write": {
            "dict": lambda: orjson.dumps(envelope_dict),
            "dataclass": lambda: orjson.dumps(envelope_data),
            "msgspec": lambda: encoder.encode(envelope_struct),
        },
    }


def _task_data(value: dict[str, Any]) -> TaskData:
    return TaskData(**{**value, "event": EventData(**value["event"])})


def measure(text_bytes: int, number: int, repeat: int) -> dict[str, Any]:
    task = encode(new_task("sub-1", sample_event(text_bytes), reason="live"))
    envelope = orjson.dumps(sample_envelope(text_bytes))
    figures: dict[str, dict[str, float]] = {}
    for operation, ways in _candidates(task, envelope).items():
        figures[operation] = {
            way: round(min(timeit.repeat(run, number=number, repeat=repeat)) / number * 1e6, 3)
            for way, run in ways.items()
        }
    return {
        "measured": "microseconds per record, best of repeats, one process",
        "python": sys.version.split()[0],
        "msgspec": msgspec.__version__,
        "orjson": orjson.__version__,
        "record_bytes": {"task": len(task), "envelope": len(envelope)},
        "number": number,
        "repeat": repeat,
        "us_per_record": figures,
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| operation | dict (orjson) | frozen dataclass (orjson) | msgspec Struct |",
        "|---|---|---|---|",
    ]
    for operation, ways in results["us_per_record"].items():
        cells = " | ".join(f"{ways[way]:.2f} µs" for way in ("dict", "dataclass", "msgspec"))
        lines.append(f"| {operation} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench codecs", description=__doc__)
    parser.add_argument("--text-bytes", type=int, default=256, help="provider text per record")
    parser.add_argument("--number", type=int, default=20_000, help="records per timing")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", type=Path, help="write the JSON here too")
    args = parser.parse_args(argv)
    results = measure(args.text_bytes, args.number, args.repeat)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))  # noqa: T201 - the figures are this command's output
    print(markdown(results))  # noqa: T201
    return 0
