"""Data teams read what the pipeline writes with CloudEvents implementations it did not write.

One run sends every type of the catalog through the real ingress and worker. Every record of
`events.normalized` must then be the CloudEvent that was written to the official Java SDK's Kafka
deserializer and to the official Python SDK's Kafka binding (in the mode the record's headers
name, as the binding says receivers tell it), and every delivery to the Python SDK's HTTP binding,
its signature verified by the Standard Webhooks library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import http, kafka
from standardwebhooks.webhooks import Webhook

from pipeline.events.types import EVENT_TYPES
from pipeline.simulators.social import SAMPLES, sample, signed_request
from tests.integration.conftest import Stack
from tests.integration.test_delivery import subscribe
from tests.integration.test_ingest import new_instance, path_of
from tests.support.cloudevents_java import read_with_java_sdk
from tests.support.documents import HOOTSUITE_STATES, HOOTSUITE_SUBJECTS
from tests.support.kafka import read_records, run, write
from tests.support.payloads import OKTOPOST_DATA, hex_hmac, oktopost_body, standard_request
from tests.support.receiver import Received, Receiver

pytestmark = pytest.mark.integration
PLATFORM_SECRET = "platform-secret"
STRUCTURED = b"application/cloudevents+json; charset=utf-8"  # the binding 1.0.2, structured mode
CORE = ("specversion", "id", "type", "source", "subject", "datacontenttype")  # besides `time`
LINEAGE = ("provider", "providerevent", "instanceid", "receivedat")  # the extensions written


@dataclass(frozen=True)
class Run:
    """What the pipeline wrote for one request of every kind: every record of the normalized
    topic (it holds nothing else) and every delivery to the one subscription."""

    records: list[ConsumerRecord[bytes, bytes]]
    deliveries: list[Received]
    secret: str  # the subscription's signing secret

    @property
    def written(self) -> dict[str, dict[str, Any]]:
        """The events as the worker serialised them, by id."""
        events = [orjson.loads(record.value) for record in self.records]
        return {event["id"]: event for event in events}


async def _send_every_type(stack: Stack, okto: Any, hoot: Any, standard: Any) -> int:
    """Every Oktopost event, every Hootsuite webhook state, and `stream.message` (only Standard
    Webhooks senders emit it); the number of events they make."""
    for event in sorted(OKTOPOST_DATA):
        body = oktopost_body(event)
        signed = {"X-Oktopost-Signature": hex_hmac("okto-secret", body)}
        assert (await stack.post(path_of(okto), body, signed))[0] == 202
    batch = []
    for kind, states in sorted(HOOTSUITE_STATES.items()):
        for state in states:
            seq_no = str(len(batch) + 1)
            data = {
                "state": state,
                "organization": {"id": "814"},
                "timestamp": "2025-11-20T12:00:00Z",
            }
            data[HOOTSUITE_SUBJECTS[kind]] = {"id": f"h{seq_no}"}
            batch.append({"seq_no": seq_no, "type": kind, "data": data})
    assert (await stack.post(path_of(hoot), orjson.dumps(batch)))[0] == 202
    stream = {
        "type": "stream.message",
        "timestamp": 1763640000,
        "data": {"id": "SM1", "text": "hi"},
    }
    body, headers = standard_request(standard["signing_secret"], "msg_stream_1", stream)
    assert (await stack.post(path_of(standard), body, headers))[0] == 202
    return len(OKTOPOST_DATA) + len(batch) + 1


async def _send_every_platform_sample(stack: Stack, platforms: dict[str, Any]) -> int:
    """Each social platform's documented samples, signed as it signs; the number of events."""
    for provider, instance in sorted(platforms.items()):
        for name in sorted(SAMPLES[provider]):
            body = sample(provider, name)
            headers = signed_request(provider, PLATFORM_SECRET, body)
            assert (await stack.post(path_of(instance), body, headers))[0] == 202, name
    return sum(len(SAMPLES[provider]) for provider in platforms)


async def _every_type(stack: Stack) -> Run:
    receiver = await Receiver().start()
    try:
        okto = await new_instance(stack, "oktopost", signing_secret="okto-secret")
        hoot = await new_instance(stack, "hootsuite")
        standard = await new_instance(stack, "standard")
        platforms = {
            provider: await new_instance(stack, provider, signing_secret=PLATFORM_SECRET)
            for provider in sorted(SAMPLES)
        }
        everyone = [okto["id"], hoot["id"], standard["id"], *(i["id"] for i in platforms.values())]
        subscription = await subscribe(stack, receiver.url, instance_ids=everyone)
        count = await _send_every_type(stack, okto, hoot, standard)
        count += await _send_every_platform_sample(stack, platforms)
        records = await read_records(
            stack.settings.kafka_bootstrap,
            stack.topic("events.normalized"),
            until=lambda records: len(records) >= count,
        )
        deliveries = await receiver.wait_for(count)
        return Run(records, list(deliveries), subscription["secret"])
    finally:
        await receiver.stop()


@pytest.fixture(scope="module")
def every_type(stack: Stack) -> Run:
    written: Run = run(_every_type(stack))
    return written


def from_kafka_record(record: ConsumerRecord[bytes, bytes]) -> BaseCloudEvent:
    """The Python SDK's Kafka binding in the mode the headers name; neither mode is no event."""
    headers = dict(record.headers)
    message = kafka.KafkaMessage(headers=headers, key=record.key, value=record.value)
    if headers.get("content-type", b"").startswith(b"application/cloudevents"):
        return kafka.from_structured_event(message)
    if "ce_specversion" in headers:
        return kafka.from_binary_event(message)
    raise ValueError(f"offset {record.offset}: neither structured nor binary mode: {headers}")


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def assert_same_event(attributes: dict[str, Any], data: Any, written: dict[str, Any]) -> None:
    """What an SDK read (`time` as a datetime) is the event as written."""
    expected = {name: value for name, value in written.items() if name != "data"}
    assert attributes.pop("time") == moment(expected.pop("time"))
    assert attributes == expected
    assert data == written["data"]


def test_the_run_covers_the_catalog_with_the_binding_header_and_the_subject_as_key(
    every_type: Run,
) -> None:
    assert {event["type"] for event in every_type.written.values()} == set(EVENT_TYPES)
    assert len(every_type.written) == len(every_type.records)
    for record in every_type.records:
        assert record.headers == (("content-type", STRUCTURED),), record.offset
        assert record.key == orjson.loads(record.value)["subject"].encode()


def test_the_java_sdk_reads_every_record_as_the_event_written(
    every_type: Run, stack: Stack
) -> None:
    read = read_with_java_sdk(stack.settings.kafka_bootstrap, stack.topic("events.normalized"))
    assert read.returncode == 0, read.stderr
    assert len(read.events) == len(every_type.records)
    written = every_type.written
    assert {event["id"] for event in read.events} == set(written)
    for event in read.events:
        expected = written[event["id"]]
        assert moment(event.pop("time")) == moment(expected["time"])
        assert event.pop("extensions") == {name: expected[name] for name in LINEAGE}
        assert event.pop("data") == expected["data"]
        assert event == {"key": expected["subject"], **{name: expected[name] for name in CORE}}


def test_the_python_sdk_reads_every_record_with_its_kafka_binding(every_type: Run) -> None:
    written = every_type.written
    for record in every_type.records:
        event = from_kafka_record(record)
        attributes = event.get_attributes()
        # The SDK maps the record key to the `partitionkey` attribute: it is the subject.
        assert attributes.pop("partitionkey") == record.key.decode()
        assert_same_event(attributes, event.get_data(), written[attributes["id"]])


def test_every_delivery_is_signed_and_read_by_the_python_sdks_http_binding(
    every_type: Run,
) -> None:
    written = every_type.written
    delivered = set()
    for delivery in every_type.deliveries:
        headers = {name.lower(): value for name, value in delivery.headers.items()}
        Webhook(every_type.secret).verify(delivery.body, headers)  # raises if not valid
        assert headers["content-type"] == "application/cloudevents+json"
        event = http.from_http_event(http.HTTPMessage(headers=headers, body=delivery.body))
        attributes = event.get_attributes()
        assert_same_event(attributes, event.get_data(), written[attributes["id"]])
        delivered.add(event.get_id())
    assert delivered == set(written)


EVENT = {
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


async def _one_with_one_without(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    value = orjson.dumps(EVENT)
    await write(bootstrap, topic, b"posts/P1", value, [("content-type", STRUCTURED)])
    await write(bootstrap, topic, b"posts/P1", value)


def test_a_record_without_the_header_is_no_cloudevent_to_the_java_sdk(
    kafka_bootstrap: str, prefix: str
) -> None:
    """The same bytes, with and without the header: the SDK reads the first and fails on the
    second, so the header is what the Java test above depends on."""
    topic = f"{prefix}interop.headers"
    run(_one_with_one_without(kafka_bootstrap, topic))
    read = read_with_java_sdk(kafka_bootstrap, topic)
    assert read.returncode == 1
    assert "offset 1: " in read.stderr
    assert "Unknown encoding" in read.stderr
    assert [event["id"] for event in read.events] == ["e1"]
    [with_header, without] = run(read_records(kafka_bootstrap, topic, until=lambda r: len(r) == 2))
    assert from_kafka_record(with_header).get_id() == "e1"
    with pytest.raises(ValueError, match="neither structured nor binary mode"):
        from_kafka_record(without)
