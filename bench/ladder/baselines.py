"""Baselines measured in the same session, so pipeline figures can be read as ratios.

- bare HTTP: the same webhooks, open- and closed-loop, against `bare_server` (202, no Kafka);
- bare delivery: signed CloudEvents of the pipeline's size POSTed straight to the receiver;
- bare Kafka: `kafka_loop`, produce → consume → produce → consume with the pipeline's record sizes.
"""

from __future__ import annotations

import statistics
import uuid
from typing import Any

import orjson

from bench.children import Child
from bench.ladder.runs import Harness, Run
from bench.loadgen import LoadSpec
from bench.payloads import DeliveryFactory, Instances, WebhookFactory, envelope_size

STAND_IN = Instances(
    "bench-okto", "/v1/webhooks/oktopost/b2t0bw", "s", "bench-hoot", "/v1/webhooks/hootsuite/aG9vdA"
)
SIZE_SAMPLES = 200


def load_spec(
    harness: Harness, base_url: str, kind: str, rate: float | None, **fields: Any
) -> LoadSpec:
    """A load generator spec with the session's mix, connections and a fresh tag."""
    config = harness.config
    duration = config.baseline_duration if "duration" not in fields else fields.pop("duration")
    return LoadSpec(
        base_url=base_url,
        kind=kind,
        rate=rate,
        duration=duration,
        tag=uuid.uuid4().hex[:6],
        mix=config.mix,
        connections=config.connections,
        concurrency=config.max_concurrency,
        **fields,
    )


def _ladder(harness: Harness) -> list[float | None]:
    return [*harness.config.rates, None]


def _label(rate: float | None) -> str:
    return f"r{rate:g}" if rate else "max"


def http_runs(harness: Harness, bare_url: str, pid: int) -> list[Run]:
    return [
        Run(
            name=f"bare_http-{_label(rate)}",
            target="bare_http",
            spec=load_spec(harness, bare_url, "webhooks", rate, instances=STAND_IN),
            pids={"bare_server": pid},
            delivers=False,
        )
        for rate in _ladder(harness)
    ]


def delivery_runs(harness: Harness, receiver_url: str, pid: int, secret: str) -> list[Run]:
    return [
        Run(
            name=f"bare_delivery-{_label(rate)}",
            target="bare_delivery",
            spec=load_spec(harness, receiver_url, "deliveries", rate, secret=secret),
            pids={"receiver": pid},
            delivers=True,
        )
        for rate in _ladder(harness)
    ]


def record_sizes(harness: Harness) -> tuple[int, int]:
    """Mean sizes of a `webhooks.raw` envelope and of a delivered CloudEvent for this mix."""
    webhooks = WebhookFactory(STAND_IN, harness.config.mix, "sizes")
    events = DeliveryFactory("whsec_c2l6ZXM=", harness.config.mix, "sizes")
    first = statistics.mean(envelope_size(webhooks.next()) for _ in range(SIZE_SAMPLES))
    second = statistics.mean(len(events.next().body) for _ in range(SIZE_SAMPLES))
    return int(first), int(second)


def _loop_variants(harness: Harness) -> list[tuple[str, float | None, int, int]]:
    """(label, rate, records, fetch_max_wait_ms): aiokafka's default wait, faust's, and a short one.

    A consumer has one fetch in flight per broker; when it covers only idle partitions it waits
    the whole `fetch_max_wait_ms`, and records arriving meanwhile on other partitions wait too.
    """
    at_rate = int(1000 * harness.config.baseline_duration)
    return [
        ("r1000", 1000.0, at_rate, 500),
        ("r1000-wait1500", 1000.0, at_rate, 1500),
        ("r1000-wait10", 1000.0, at_rate, 10),
        ("max", None, harness.config.kafka_records, 500),
    ]


async def kafka_loop(harness: Harness, bootstrap: str) -> dict[str, Any]:
    """The Kafka loop at 1,000 records/s (latency) and as fast as it goes (throughput)."""
    first, second = record_sizes(harness)
    found: dict[str, Any] = {}
    for label, rate, records, fetch_wait in _loop_variants(harness):
        spec = {
            "bootstrap": bootstrap,
            "prefix": f"benchloop{uuid.uuid4().hex[:6]}.",
            "records": records,
            "rate": rate,
            "first_size": first,
            "second_size": second,
            "fetch_max_wait_ms": fetch_wait,
        }
        spec_path = harness.work / f"kafka_loop-{label}.spec.json"
        out_path = harness.work / f"kafka_loop-{label}.out.json"
        spec_path.write_bytes(orjson.dumps(spec))
        argv = ["bench.ladder.kafka_loop", str(spec_path), str(out_path)]
        child = Child(f"kafka_loop-{label}", argv, harness.logs).start()
        if await child.wait(within=120.0) != 0:
            raise RuntimeError(f"kafka loop failed:\n{child.log_tail()}")
        found[label] = orjson.loads(out_path.read_bytes())
    return found
