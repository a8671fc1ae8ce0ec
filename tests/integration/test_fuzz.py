"""A few thousand malformed requests and raw records never stop the pipeline (real broker, HTTP).

Every request the ingress acknowledged ends up exactly as the pure normalizer maps its envelope:
events on `events.normalized` (each once: repeats are the dedup table's duplicates, counted by
the worker's metric), dead letters on `events.invalid`; every 400 is kept there too. No request
gets a 5xx, no agent crashes or dead-letters an internal error, and a good webhook sent afterwards
is delivered within 5 s. The figures are printed (`pytest -s`).
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from yarl import URL

from pipeline.events.invalid import encode_invalid
from pipeline.health import partitions_of
from pipeline.providers.normalize import Outcome, normalize_poll, normalize_webhook
from tests.integration.conftest import Stack
from tests.integration.test_delivery import subscribe
from tests.integration.test_ingest import new_instance, path_of
from tests.support.fuzz import Pools, Request, Targets, compose, generate, raw_records
from tests.support.kafka import read_topic
from tests.support.payloads import hex_hmac, oktopost_body
from tests.support.processes import wait_for
from tests.support.receiver import Receiver
from tests.support.totality import CATALOG

pytestmark = pytest.mark.integration

REQUESTS = 3000
RAW_RECORDS = 200
POOL = 200  # generated bodies per provider that requests are drawn (and broken further) from
CONCURRENCY = 32
SEED = 20261201
DRAIN_SECONDS = 120.0  # the worker's whole backlog; typically a fraction of it


@dataclass(frozen=True)
class Sent:
    request: Request
    status: int
    request_id: str


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def dead_key(record: dict[str, Any]) -> tuple[str, bytes, bytes]:
    """A dead letter as written on `events.invalid`, less what differs between runs."""
    return record["reason"], canonical(record["record"]), canonical(record.get("element"))


@dataclass
class Expected:
    """What the worker must write for the records it reads, computed by the pure normalizer."""

    keys: set[tuple[str, str]] = field(default_factory=set)
    events: int = 0
    dead: Counter[tuple[str, bytes, bytes]] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        self.events += len(outcome.events)
        self.keys |= {(event["source"], event["id"]) for event in outcome.events}
        self.dead.update(dead_key(orjson.loads(encode_invalid(d))) for d in outcome.invalid)


async def send_all(stack: Stack, requests: list[Request]) -> list[Sent]:
    limit = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(request: Request) -> Sent:
            url = URL(stack.base_url + request.path, encoded=True)
            async with (
                limit,
                session.request(
                    request.method, url, data=request.body, headers=request.headers
                ) as response,
            ):
                await response.read()
                return Sent(request, response.status, response.headers.get("X-Request-Id", ""))

        return await asyncio.gather(*(one(request) for request in requests))


async def write_raw(stack: Stack, records: list[tuple[str, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        acks = [
            await producer.send(stack.topic(topic), value, key=b"fuzz") for topic, value in records
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def read_raw(
    stack: Stack, topic: str, until: Callable[[list[bytes | None]], bool]
) -> list[bytes | None]:
    """Every value of `topic` as bytes (they need not be JSON), until `until` holds."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    values: list[bytes | None] = []
    try:
        name = stack.topic(topic)
        partitions = [
            TopicPartition(name, p)
            for p in await partitions_of(stack.settings.kafka_bootstrap, name)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + DRAIN_SECONDS
        while not until(values):
            assert time.monotonic() < deadline, f"{topic}: {len(values)} records only"
            batch = await consumer.getmany(timeout_ms=200)
            values += [record.value for records in batch.values() for record in records]
    finally:
        await consumer.stop()
    return values


def duplicates_counted(stack: Stack) -> float:
    url = f"http://127.0.0.1:{stack.settings.worker_web_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("pipeline_events_duplicates_total{")
    )


def wait_for_duplicates(stack: Stack, expected: int) -> None:
    """The worker's count reaches `expected` (a last record of repeats alone writes nothing)."""
    wait_for(lambda: duplicates_counted(stack) >= expected, "the duplicates metric", 30)
    assert duplicates_counted(stack) == expected


async def fuzz_targets(stack: Stack) -> Targets:
    oktopost = await new_instance(stack, "oktopost", signing_secret="fuzz-oktopost-secret")
    hootsuite = await new_instance(stack, "hootsuite")
    standard = await new_instance(stack, "standard")
    return Targets(
        oktopost_path=path_of(oktopost),
        oktopost_secret="fuzz-oktopost-secret",
        hootsuite_path=path_of(hootsuite),
        standard_path=path_of(standard),
        standard_secret=standard["signing_secret"],
    )


async def test_malformed_input_is_all_accounted_for_and_never_stops_the_pipeline(
    stack: Stack,
) -> None:
    started = time.monotonic()
    target = await fuzz_targets(stack)
    good = await new_instance(stack, "oktopost", signing_secret="good-secret")
    receiver = await Receiver().start()
    try:
        await subscribe(stack, receiver.url, instance_ids=[good["id"]])
        rng = random.Random(SEED)  # noqa: S311 - reproducible test data, not a secret
        pools = Pools.generate(POOL)
        requests = [compose(rng, pools, target) for _ in range(REQUESTS)]
        raw = generate(raw_records(), RAW_RECORDS)
        generated = time.monotonic()
        sent = await send_all(stack, requests)
        await write_raw(stack, raw)
        sent_at = time.monotonic()
        statuses = Counter(s.status for s in sent)
        assert all(status < 500 for status in statuses), statuses
        expected, accepted = await expected_outputs(stack, sent, raw)
        refused = {s.request_id for s in sent if s.status == 400}
        normalized, invalid = await actual_outputs(stack, expected, refused)
        drained = time.monotonic()
        wait_for_duplicates(stack, expected.events - len(expected.keys))
        for process in (stack.worker, stack.ingress):
            log = process.log_path.read_text(errors="replace")
            assert "Crashed" not in log
            assert "failed unexpectedly" not in log
            assert "unhandled error" not in log
        delivered_in = await deliver_a_good_webhook(stack, good, receiver)
    finally:
        await receiver.stop()
    reasons = Counter((d["stage"], d["reason"]) for d in invalid)
    print(
        f"\nfuzz: {len(sent)} requests ({sum(statuses[c] for c in (200, 202))} 2xx; "
        f"{dict(sorted(statuses.items()))}), {len(raw)} raw records; {accepted} acknowledged "
        f"records -> {len(normalized)} normalized, {len(invalid)} invalid "
        f"({dict(sorted(reasons.items()))}), {expected.events - len(expected.keys)} duplicates; "
        f"generated in {generated - started:.1f} s, sent in {sent_at - generated:.1f} s, "
        f"drained in {drained - sent_at:.1f} s; good webhook delivered in {delivered_in:.2f} s"
    )


async def expected_outputs(
    stack: Stack, sent: list[Sent], raw: list[tuple[str, bytes | None]]
) -> tuple[Expected, int]:
    """What the worker must write: for every acknowledged envelope and every raw record."""
    accepted = {s.request_id for s in sent if s.status == 202}
    direct = Counter(value for topic, value in raw if topic == "webhooks.raw")

    def envelopes(values: list[bytes | None]) -> dict[str, bytes]:
        found = {}
        for value in values:
            if value and direct[value] == 0:  # written by the ingress
                found[orjson.loads(value)["request_id"]] = value
        return found

    values = await read_raw(
        stack, "webhooks.raw", lambda values: len(envelopes(values)) >= len(accepted)
    )
    by_request = envelopes(values)
    assert set(by_request) == accepted
    expected = Expected()
    for envelope in by_request.values():
        outcome = normalize_webhook(envelope, CATALOG)
        assert outcome.events or outcome.invalid  # an acknowledged request always yields output
        expected.add(outcome)
    for topic, record in raw:
        normalize = normalize_webhook if topic == "webhooks.raw" else normalize_poll
        expected.add(normalize(record, CATALOG))
    return expected, len(accepted) + len(raw)


async def actual_outputs(
    stack: Stack, expected: Expected, refused: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The worker's events and dead letters, once all expected ones are there; none beyond."""
    bootstrap = stack.settings.kafka_bootstrap
    dead = expected.dead

    def normalize_dead(values: list[Any]) -> Counter[tuple[str, bytes, bytes]]:
        return Counter(dead_key(v) for v in values if v["stage"] == "normalize")

    def ingress_dead(values: list[Any]) -> set[str]:
        return {v["record"]["request_id"] for v in values if v["stage"] == "ingress"}

    invalid = await read_topic(
        bootstrap,
        stack.topic("events.invalid"),
        until=lambda values: normalize_dead(values) >= dead and ingress_dead(values) >= refused,
        timeout=DRAIN_SECONDS,
    )
    assert not [v for v in invalid if v["reason"] == "internal_error"]
    assert normalize_dead(invalid) == dead
    assert ingress_dead(invalid) == refused
    normalized = await read_topic(
        bootstrap,
        stack.topic("events.normalized"),
        until=lambda values: len(values) >= len(expected.keys),
        timeout=DRAIN_SECONDS,
    )
    keys = Counter((event["source"], event["id"]) for event in normalized)
    assert set(keys) == expected.keys
    assert max(keys.values(), default=1) == 1  # repeats were dropped, not written twice
    for event in normalized:
        assert CATALOG.violation(event) is None, event
    return normalized, invalid


async def deliver_a_good_webhook(stack: Stack, good: dict[str, Any], receiver: Receiver) -> float:
    body = oktopost_body("postSent", data={"postId": "after-the-fuzz", "network": "LinkedIn"})
    started = time.monotonic()
    status, _ = await stack.post(
        path_of(good), body, {"X-Oktopost-Signature": hex_hmac("good-secret", body)}
    )
    assert status == 202
    [delivery] = await receiver.wait_for(1, timeout=5.0)
    assert orjson.loads(delivery.body)["subject"] == "posts/after-the-fuzz"
    return delivery.at - started
