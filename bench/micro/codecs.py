"""`python -m bench codecs`: what the typed records cost on the hot path, against the alternatives.

Issue 17 asked for typed values on every topic, "chosen by measurement, not taste". This times, per
record, three ways of reading and writing the two records every event crosses most often: the
delivery task (written by routing, read by the deliver agent) and the webhook envelope (written by
the ingress, read by normalize):

- `dict`: `orjson.loads` / `orjson.dumps` of plain dicts, read by string key (the code before);
- `dataclass`: the same JSON through orjson, then a frozen dataclass with the record's fields
  built from the dict (orjson writes dataclasses natively);
- `msgspec`: the pipeline's own Structs (`DeliveryTask`, `WebhookEnvelope`) through their
  decoders and encoder, which check every field's type while decoding.

"read" is decoding plus reading the fields the reader uses (the envelope's body decoded from
base64, as the wire holds it); "write" is encoding. Figures are microseconds per record (best of
`--repeat` runs of `--number` records), in this process.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson

from bench.payloads import filler_text
from pipeline.delivery.tasks import DeliveryTask, decode_task, encode, event_head, new_task
from pipeline.events.envelope import WebhookEnvelope, decode_envelope, encode_envelope


def as_dataclass(struct: type[msgspec.Struct]) -> type[Any]:
    """A frozen dataclass with the Struct's fields: the candidate msgspec was measured against."""
    fields = [(field.name, field.type) for field in msgspec.structs.fields(struct)]
    return dataclasses.make_dataclass(f"{struct.__name__}Data", fields, frozen=True)


TaskData = as_dataclass(DeliveryTask)
EnvelopeData = as_dataclass(WebhookEnvelope)


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


def sample_envelope(text_bytes: int) -> WebhookEnvelope:
    body = orjson.dumps({"event": "postSent", "data": sample_event(text_bytes)["data"]["raw"]})
    return WebhookEnvelope(
        request_id="8d5f0c1e2b3a4f6e9d7c5b3a1f0e2d4c",
        provider="oktopost",
        instance_id="i-1234",
        received_at=datetime.now(UTC).isoformat(),
        headers={"content-type": "application/json", "x-oktopost-signature": "ab" * 32},
        body=body,
    )


def _task_fields(task: Any) -> tuple[Any, ...]:
    event = task.event  # raw JSON in the pipeline's Struct: its head is decoded on its own
    kind = event["type"] if isinstance(event, dict) else event_head(event).type
    return (task.subscription_id, task.webhook_id, task.attempt, task.force, kind)


def _candidates(task: bytes, envelope: bytes) -> dict[str, dict[str, Callable[[], Any]]]:
    as_dict = orjson.loads(task)
    as_struct = decode_task(task)
    as_data = TaskData(**as_dict)
    envelope_dict = orjson.loads(envelope)
    envelope_struct = decode_envelope(envelope)
    envelope_data = EnvelopeData(**envelope_dict)

    def dict_read() -> Any:
        value = orjson.loads(task)
        event = value["event"]
        return (value["subscription_id"], value["webhook_id"], value["attempt"], event["type"])

    return {
        "task read": {
            "dict": dict_read,
            "dataclass": lambda: _task_fields(TaskData(**orjson.loads(task))),
            "msgspec": lambda: _task_fields(decode_task(task)),
        },
        "task write": {
            "dict": lambda: orjson.dumps(as_dict),
            "dataclass": lambda: orjson.dumps(as_data),
            "msgspec": lambda: encode(as_struct),
        },
        "envelope read": {
            "dict": lambda: base64.b64decode(orjson.loads(envelope)["body"]),
            "dataclass": lambda: base64.b64decode(EnvelopeData(**orjson.loads(envelope)).body),
            "msgspec": lambda: decode_envelope(envelope).body,
        },
        "envelope write": {
            "dict": lambda: orjson.dumps(envelope_dict),
            "dataclass": lambda: orjson.dumps(envelope_data),
            "msgspec": lambda: encode_envelope(envelope_struct),
        },
    }


def measure(text_bytes: int, number: int, repeat: int) -> dict[str, Any]:
    task = encode(new_task("sub-1", sample_event(text_bytes), reason="live"))
    envelope = encode_envelope(sample_envelope(text_bytes))
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
