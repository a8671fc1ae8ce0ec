"""The dashboards and alert rules, proven against a real Prometheus scraping a running pipeline.

Prometheus (Debian's `prometheus` package; `.ci/install-prometheus.sh` installs it if missing)
scrapes the `stack` fixture's ingress and worker and a poller every second while two rounds of
signed webhooks, deliveries to local subscribers and polls of the Hootsuite simulator run; then
every panel query and template variable runs through Prometheus' HTTP API and must return data.
`promtool` checks the scrape config and unit-tests the alert rules.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
import yaml
from aiohttp import web

from pipeline.config.instances import instance_key
from pipeline.settings import REPO_ROOT
from pipeline.simulators.hootsuite import SimulatorState, create_simulator
from tests.integration.conftest import Stack
from tests.support.payloads import (
    hex_hmac,
    hootsuite_element,
    hootsuite_ping,
    oktopost_body,
    standard_request,
)
from tests.support.processes import Process, free_port, http_status, pipeline_env, wait_for
from tests.support.receiver import Receiver
from tests.unit.deploy.test_dashboards import (
    ALERTS,
    Query,
    metric_names,
    panel_queries,
    variable_queries,
)

pytestmark = pytest.mark.integration
T = TypeVar("T")

# Metrics this load cannot produce. Queries on them are skipped, never passed, and fail as soon as
# they return data, so that the entry is removed.
WAITING = {
    "pipeline_kafka_producer_errors_total": "counted only when Kafka fails; this load keeps it up",
    "pipeline_agent_retries_total": "counted only when Kafka refuses writes; this load keeps it up",
    "pipeline_deliveries_deferred_total": (
        "counted only when a slow subscriber holds its request limit; this load's answer at once"
    ),
    "pipeline_oktopost_webhooks_unlisted_total": (
        "counted only when Oktopost's listing lacks a registered webhook; this load manages none"
    ),
    "pipeline_delivery_lanes_held": (
        "set only while an ordered subscription's subject waits for its retry; this load has none"
    ),
    "pipeline_delivery_held_oldest_seconds": (
        "set only while an ordered subscription's subject waits for its retry; this load has none"
    ),
}
WINDOWS = {"$__rate_interval": "2m", "$__interval": "15s", "$__range": "5m"}
CLIENT_ID, CLIENT_SECRET = "prometheus-test-app", "prometheus-test-secret"
# Rates need a counter to rise between two scrapes, so the load runs twice, scraped in between.
ROUNDS = 2
# Per round: requests posted, events normalized and delivered, duplicates dropped.
REQUESTS, EVENTS, DUPLICATES = 9, 4, 2


def concrete(expr: str) -> str:
    """What Grafana sends: its interval macros filled in, every template variable set to "All"."""
    for macro, window in WINDOWS.items():
        expr = expr.replace(macro, window)
    return re.sub(r"\$\{\w+(?::\w+)?\}|\$\w+", ".*", expr)


def api(url: str, path: str, **params: str) -> Any:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{query}", timeout=10) as response:  # noqa: S310
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]


def results(url: str, query: Query) -> list[Any]:
    """A panel query's result series (NaN draws nothing), or a template variable's values."""
    variable = re.fullmatch(r"label_values\((?:(\w+),\s*)?(\w+)\)", query.expr)
    if variable:
        metric, label = variable.groups()
        match = {"match[]": metric} if metric else {}
        return list(api(url, f"/api/v1/label/{label}/values", **match))
    found = api(url, "/api/v1/query", query=concrete(query.expr))["result"]
    return [series for series in found if not math.isnan(float(series["value"][1]))]


def total(url: str, expr: str) -> float:
    found = api(url, "/api/v1/query", query=expr)["result"]
    return float(found[0]["value"][1]) if found else 0.0


def binary(name: str) -> str:
    if shutil.which(name) is None:
        subprocess.run(["bash", str(REPO_ROOT / ".ci/install-prometheus.sh")], check=True)
    path = shutil.which(name)
    assert path, f"{name} is missing: install Debian's prometheus package"
    return path


class Background:
    """An event loop in a thread: the simulator and subscribers answer while tests block."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def call(self, function: Callable[[], T]) -> T:
        async def inside() -> T:
            return function()

        return self.run(inside())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass
class Provider:
    state: SimulatorState
    url: str

    def change(self, background: Background) -> None:
        """A new message, a 429 and expired tokens: a snapshot, a rate-limit wait, a refresh."""

        def change() -> None:
            self.state.add_message(datetime.now(UTC) + timedelta(hours=1))
            self.state.throttle_next(1, endpoint="messages")
            self.state.expire_tokens()

        background.call(change)


@pytest.fixture(scope="module")
def background() -> Iterator[Background]:
    running = Background()
    yield running
    running.close()


@pytest.fixture(scope="module")
def provider(background: Background) -> Iterator[Provider]:
    """The Hootsuite simulator on a free port of 127.0.0.1."""
    state = SimulatorState({CLIENT_ID: CLIENT_SECRET})
    runner = web.AppRunner(create_simulator(state), access_log=None, shutdown_timeout=0.5)
    port = free_port()

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    background.run(start())
    yield Provider(state, f"http://127.0.0.1:{port}")
    background.run(runner.cleanup())


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus scraping the stack and its poller every second: its base URL."""
    directory = tmp_path_factory.mktemp("prometheus")
    config = directory / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(stack)))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    arguments = [
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with (directory / "prometheus.log").open("wb") as log:
        server = subprocess.Popen(
            [binary("prometheus"), *arguments], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: http_status(f"{url}/-/ready") == 200, "prometheus ready", 60)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def scrape_config(stack: Stack) -> dict[str, Any]:
    def job(name: str, port: int) -> dict[str, Any]:
        return {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}

    settings = stack.settings
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            job("ingress", settings.ingress_port),
            job("worker", settings.worker_web_port),
            job("poller", settings.poller_port),
        ],
    }


async def new_instance(stack: Stack, provider: str, **fields: Any) -> dict[str, Any]:
    body = {"provider": provider, "id": f"{provider}-{uuid.uuid4().hex[:8]}", **fields}
    status, created = await stack.admin("POST", "/v1/instances", body)
    assert status == 201, created
    return {**created, "path": f"/v1/webhooks/{provider}/{instance_key(created['id'])}"}


async def polled_instance(stack: Stack, provider: Provider, secret: str) -> None:
    polling = {"enabled": True, "interval_seconds": 1, "api_base_url": provider.url}
    credentials = {"client_id": CLIENT_ID, "client_secret": secret}
    await new_instance(stack, "hootsuite", polling=polling, credentials=credentials)


async def subscribe(stack: Stack, receiver: Receiver, instances: list[dict[str, Any]]) -> str:
    body = {"name": "prometheus", "url": receiver.url, "instance_ids": [i["id"] for i in instances]}
    status, created = await stack.admin("POST", "/v1/subscriptions", body)
    assert status == 201, created
    return str(created["id"])


async def webhook_round(stack: Stack, instances: dict[str, dict[str, Any]], n: int) -> None:
    """Accepted, rejected, repeated, invalid and ignored webhooks from every provider."""
    answers: list[int] = []

    async def post(path: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        answers.append((await stack.post(path, body, headers))[0])

    okto = instances["oktopost"]["path"]
    sent = oktopost_body("postSent", webhookId=f"round-{n}")
    for _ in range(1 + DUPLICATES):  # the first delivery and two of Oktopost's retries
        await post(okto, sent, {"X-Oktopost-Signature": hex_hmac("okto", sent)})
    await post(okto, sent, {"X-Oktopost-Signature": hex_hmac("forged", sent)})
    await post(okto, b"not json", {"X-Oktopost-Signature": hex_hmac("okto", b"not json")})
    await post("/v1/webhooks/oktopost/bm9wZQ", sent)
    batch = [hootsuite_element(f"{n}01", "SCHEDULED"), hootsuite_ping(f"{n}02")]
    batch.append(hootsuite_element(f"{n}03", "SENT"))
    await post(instances["hootsuite"]["path"], orjson.dumps(batch))
    await post(instances["hootsuite"]["path"], orjson.dumps([hootsuite_ping(f"{n}04")]))
    payload = {"type": "lead.created", "timestamp": "2025-11-20T08:00:00Z", "data": {"id": f"L{n}"}}
    standard = instances["standard"]
    body, headers = standard_request(
        standard["signing_secret"], f"msg_{n}_{uuid.uuid4().hex}", payload
    )
    await post(standard["path"], body, headers)
    assert sorted(answers) == [200, 202, 202, 202, 202, 202, 400, 401, 404]


def scraped(url: str, rounds: int, subscription: str) -> bool:
    """Prometheus has seen `rounds` rounds through: taken in, deduplicated, delivered, polled."""
    delivered = (
        f'pipeline_delivery_attempts_total{{subscription="{subscription}",outcome="delivered"}}'
    )
    expected = {
        "sum(pipeline_ingress_requests_total)": REQUESTS * rounds,
        "sum(pipeline_events_duplicates_total)": DUPLICATES * rounds,
        f"sum({delivered})": EVENTS * rounds,
        "sum(pipeline_poller_rate_limit_waits_total)": rounds,
    }
    return all(total(url, expr) >= count for expr, count in expected.items())


@pytest.fixture(scope="module")
def load(
    stack: Stack, background: Background, provider: Provider, prometheus: str
) -> Iterator[None]:
    """Two rounds of every kind of traffic, each scraped by Prometheus before the next."""
    background.run(polled_instance(stack, provider, CLIENT_SECRET))
    background.run(polled_instance(stack, provider, "a-refused-secret"))  # an unhealthy one
    ready = f"http://127.0.0.1:{stack.settings.poller_port}/readyz"
    poller = Process("poller", pipeline_env(stack.settings), stack.directory, ready).start()
    # One subscriber fails every fourth request (retries); one answers 410 Gone (a dead letter).
    flaky = background.run(Receiver(answer=lambda n: 500 if n % 4 == 0 else 200).start())
    gone = background.run(Receiver(answer=lambda n: 410).start())
    try:
        instances = {
            "oktopost": background.run(new_instance(stack, "oktopost", signing_secret="okto")),
            "hootsuite": background.run(new_instance(stack, "hootsuite")),
            "standard": background.run(new_instance(stack, "standard")),
        }
        subscription = background.run(subscribe(stack, flaky, list(instances.values())))
        background.run(subscribe(stack, gone, [instances["standard"]]))
        for n in range(1, ROUNDS + 1):
            provider.change(background)
            background.run(webhook_round(stack, instances, n))
            wait_for(partial(scraped, prometheus, n, subscription), f"round {n} scraped", 60)
        yield
    finally:
        poller.stop()
        background.run(flaky.stop())
        background.run(gone.stop())


@pytest.mark.parametrize("query", [*panel_queries(), *variable_queries()], ids=lambda q: q.id)
def test_every_dashboard_query_returns_data(load: None, prometheus: str, query: Query) -> None:
    waiting = sorted(name for name in metric_names(query.expr) if name in WAITING)
    if waiting:
        assert results(prometheus, query) == [], f"{waiting[0]} has data now: drop it from WAITING"
        pytest.skip(WAITING[waiting[0]])
    found: list[Any] = []

    def has_data() -> bool:
        found[:] = results(prometheus, query)
        return bool(found)

    wait_for(has_data, f"data for {concrete(query.expr)}", 30)
    assert found


def promtool(*args: str, cwd: Path = REPO_ROOT) -> str:
    done = subprocess.run(
        [binary("promtool"), *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_promtool_accepts_the_alert_rules() -> None:
    rules = sum(len(group["rules"]) for group in ALERTS["groups"])
    output = promtool("check", "rules", "deploy/prometheus/alerts.yml")
    assert f"SUCCESS: {rules} rules found" in output


def test_promtool_accepts_the_scrape_config() -> None:
    output = promtool("check", "config", "deploy/prometheus/prometheus.yml")
    assert "is valid prometheus config file" in output


# alert → (evaluation time, the labels it fires with, [(series, values firing, values quiet)]).
ALERT_CASES: dict[str, tuple[str, dict[str, str], list[tuple[str, str, str]]]] = {
    "PipelineOrderedLaneHeldBack": (
        "6m",
        {"subscription": "s1"},
        # held for a growing while (fires past 60 s for 2m); retried and let go each minute (quiet)
        [('pipeline_delivery_held_oldest_seconds{subscription="s1"}', "0+60x10", "30x10")],
    ),
    "PipelineDeadLettersRising": (
        "10m",
        {"subscription": "s1"},
        [('pipeline_deliveries_dead_total{subscription="s1"}', "0 0 0 1 2 3 4 5 6 7 8", "5x10")],
    ),
    "PipelineEndToEndLatencyOverGoal": (
        "20m",
        {},
        [
            ('pipeline_end_to_end_latency_seconds_bucket{le="0.1"}', "0+1x30", "0+10x30"),
            ('pipeline_end_to_end_latency_seconds_bucket{le="0.25"}', "0+10x30", "0+10x30"),
            ('pipeline_end_to_end_latency_seconds_bucket{le="+Inf"}', "0+10x30", "0+10x30"),
        ],
    ),
    "PipelineConsumerLagGrowing": (
        "20m",
        {"group": "g", "topic": "t"},
        [('pipeline_kafka_consumer_lag{group="g",topic="t",partition="0"}', "0+50x30", "1000x30")],
    ),
    "PipelineKafkaProducerErrors": (
        "10m",
        {"process": "ingress"},
        [('pipeline_kafka_producer_errors_total{process="ingress"}', "0+1x20", "5x20")],
    ),
    "PipelineIngressKafkaUnavailable": (
        "10m",
        {"provider": "oktopost"},
        [('pipeline_ingress_requests_total{provider="oktopost",status="503"}', "0+1x20", "3x20")],
    ),
    "PipelineIngressServerErrors": (
        "10m",
        {"provider": "oktopost"},
        [
            ('pipeline_ingress_requests_total{provider="oktopost",status="503"}', "0+1x20", "3x20"),
            (
                'pipeline_ingress_requests_total{provider="oktopost",status="202"}',
                "0+9x20",
                "0+9x20",
            ),
        ],
    ),
    "PipelinePollerInstanceUnhealthy": (
        "10m",
        {"health": "unhealthy", "job": "poller", "instance": "p:8081"},
        [
            (
                'pipeline_poller_instances{health="unhealthy",job="poller",instance="p:8081"}',
                "2x20",
                "0x20",
            )
        ],
    ),
    "PipelineOktopostWebhooksUnlisted": (
        "10m",
        {"listing": "incomplete"},
        [
            (
                'pipeline_oktopost_webhooks_unlisted_total{listing="incomplete"}',
                "0 0 0 1 2 3 4 5 6 7 8",
                "5x10",
            )
        ],
    ),
    "PipelineAgentErrors": (
        "10m",
        {"stage": "normalize"},
        [('pipeline_agent_errors_total{stage="normalize"}', "0 0 0 1 1 1 1 1 1 1 1", "2x10")],
    ),
    "PipelineWorkerStalled": (
        "5m",
        {"job": "worker", "instance": "w:6066"},
        [
            (
                'pipeline_worker_stalled_partitions{job="worker",instance="w:6066"}',
                "0 0 2 0 0 0 0 0 0 0",
                "0x10",
            )
        ],
    ),
    "PipelineConfigUnreadable": (
        "5m",
        {"topic": "config.subscriptions", "job": "worker", "instance": "w:6066"},
        [
            (
                'pipeline_config_unreadable_records{topic="config.subscriptions",job="worker",'
                'instance="w:6066"}',
                "0 1 1 1 1 1 1 1 1 1",
                "0x10",
            )
        ],
    ),
    "PipelineTableExpiryBehind": (
        "25m",
        {"table": "dedup", "job": "worker", "instance": "w:6066"},
        [
            (
                'pipeline_table_oldest_key_age_seconds{table="dedup",job="worker",instance="w:6066"}',
                "100+20x30",  # over 2.5 windows of 100 s from minute 8 on
                "100x30",
            ),
            (
                'pipeline_table_window_seconds{table="dedup",job="worker",instance="w:6066"}',
                "100x30",
                "100x30",
            ),
            (
                'pipeline_table_last_expiry_timestamp_seconds{table="dedup",job="worker",'
                'instance="w:6066"}',
                "0+60x30",  # runs every minute: only the age fires it
                "0+60x30",
            ),
        ],
    ),
    "PipelineTargetDown": (
        "5m",
        {"job": "worker", "instance": "w:6066"},
        [('up{job="worker",instance="w:6066"}', "0x10", "1x10")],
    ),
}


def test_each_alert_fires_on_its_symptom_and_stays_quiet_otherwise(tmp_path: Path) -> None:
    rules = [rule for group in ALERTS["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == set(ALERT_CASES), "give each alert a case"
    # promtool compares annotations too; the cases check expressions, durations and labels.
    stripped = [{k: v for k, v in rule.items() if k != "annotations"} for rule in rules]
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "all", "rules": stripped}]})
    )
    labels = {rule["alert"]: rule["labels"] for rule in rules}
    cases = []
    for alert, (at, fired_with, series) in ALERT_CASES.items():
        for column, expected in ((1, [{"exp_labels": fired_with | labels[alert]}]), (2, [])):
            cases.append(
                {
                    "interval": "1m",
                    "input_series": [{"series": s[0], "values": s[column]} for s in series],
                    "alert_rule_test": [
                        {"eval_time": at, "alertname": alert, "exp_alerts": expected}
                    ],
                }
            )
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": cases}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests))
    assert "SUCCESS" in promtool("test", "rules", "tests.yml", cwd=tmp_path)
