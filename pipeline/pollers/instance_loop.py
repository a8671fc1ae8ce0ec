"""One instance's polling task: a cycle every interval, its metrics, and its health.

Hootsuite REST → `MessagePoller` → `polls.raw` / `pollers.state`; outcomes → `instances.health`.
Every instance runs in a task of its own with its own HTTP session, so a slow, throttled or
failing account only ever delays itself; a failed cycle is retried on the back-off of
`failure_policy` and logged by it, a rotated refresh token is kept through `credentials`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import aiohttp

from pipeline import metrics
from pipeline.config.instances import Instance
from pipeline.config.view import CompactedView, Unreadable
from pipeline.errors import KafkaUnavailableError
from pipeline.pollers.credentials import CredentialStore
from pipeline.pollers.failure_policy import FailureLog, backoff_delay
from pipeline.pollers.hootsuite_api import ClientStats, HootsuiteClient
from pipeline.pollers.instance_health import (
    HealthBoard,
    HealthTracker,
    InstanceHealth,
    reason_of,
)
from pipeline.pollers.message_poller import MessagePoller
from pipeline.pollers.polling_config import PROVIDER, PollingConfig, PollingConfigError
from pipeline.pollers.state import PollerStateView
from pipeline.pollers.writer import PollerTopics, RecordWriter
from pipeline.providers.errors import AuthError, ConfigUnreadableError, PollerError

log = logging.getLogger(__name__)

# A few connections per instance: requests are sequential, a spare covers a token refresh.
CONNECTIONS_PER_INSTANCE = 4
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class PollerContext:
    """What every instance task shares with the others."""

    writer: RecordWriter
    state: PollerStateView
    health: CompactedView[InstanceHealth]
    board: HealthBoard
    topics: PollerTopics
    credentials: CredentialStore
    # Checked before each cycle: with Kafka away, a poll could write nothing, and a hundred
    # instances' pending sends would only keep the client retrying in a tight loop.
    kafka_ready: Callable[[], Awaitable[bool]]
    # Per instance, beyond one task: a task restarted with fixed credentials logs the recovery.
    failure_logs: dict[str, FailureLog] = field(default_factory=dict)


async def run_instance(instance: Instance, context: PollerContext) -> None:
    """Poll `instance` until cancelled; returns early only if its configuration is unusable."""
    health = HealthTracker(
        instance.id, context.writer, context.topics.instances_health, context.health, context.board
    )
    try:
        config = PollingConfig.from_instance(instance)
    except PollingConfigError as exc:
        log.warning("instance %s cannot be polled: %s", instance.id, exc)
        metrics.POLLER_POLLS.labels(PROVIDER, reason_of(exc)).inc()
        await _quietly(health.failed(exc, datetime.now(UTC)))
        return  # a fixed configuration arrives as a change, which starts a new task
    await _credentials_readable(instance.id, context, health)
    connector = aiohttp.TCPConnector(limit=CONNECTIONS_PER_INSTANCE)
    async with aiohttp.ClientSession(connector=connector) as session:
        configured = config.credentials
        client = HootsuiteClient(
            session,
            config.api_base_url,
            context.credentials.current(instance.id, configured),
            max_requests_per_second=config.max_requests_per_second,
            timeout=REQUEST_TIMEOUT,
            on_rotated=functools.partial(context.credentials.save, instance.id, configured),
        )
        poller = MessagePoller(
            instance_id=instance.id,
            config=config,
            client=client,
            writer=context.writer,
            state=context.state,
            topics=context.topics,
        )
        failures = context.failure_logs.setdefault(instance.id, FailureLog(instance.id))
        cycle = _Cycle(
            instance.id,
            poller,
            client,
            health,
            context.kafka_ready,
            interval=config.interval,
            failures=failures,
        )
        await every(config.interval, cycle.run)


async def _credentials_readable(
    instance_id: str, context: PollerContext, health: HealthTracker
) -> None:
    """Wait while the instance's rotated refresh token cannot be read: the token configured
    before it may have been invalidated by that rotation, and a refresh with it would fail."""
    view = context.credentials.view
    while isinstance(unreadable := view.lookup(instance_id), Unreadable):
        reported = ConfigUnreadableError(unreadable.describe())
        log.warning("instance %s waits: %s", instance_id, reported)
        await _quietly(health.failed(reported, datetime.now(UTC)))
        await view.changed()


async def every(
    interval: float,
    action: Callable[[], Awaitable[float | None]],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run `action` now and then every `interval` seconds, recording how late each run starts.

    A run that overruns its slot is followed at once by the next; missed slots are not made up,
    so a stalled provider is not hit by a burst when it comes back. A run that returns a number
    (a failed cycle's back-off) is followed that many seconds after it ended instead.
    """
    due = clock()
    while True:
        delay = due - clock()
        if delay > 0:
            await sleep(delay)
        late = max(0.0, clock() - due)
        metrics.POLLER_LAG.labels(PROVIDER).observe(late)
        if late > interval:
            due = clock()
        retry_in = await action()
        due = due + interval if retry_in is None else clock() + retry_in


class _Cycle:
    """One poll with its metrics and health outcome; expected failures end only the cycle."""

    def __init__(
        self,
        instance_id: str,
        poller: MessagePoller,
        client: HootsuiteClient,
        health: HealthTracker,
        kafka_ready: Callable[[], Awaitable[bool]],
        *,
        interval: float,
        failures: FailureLog,
    ) -> None:
        self._instance_id = instance_id
        self._poller = poller
        self._client = client
        self._health = health
        self._kafka_ready = kafka_ready
        self._seen = replace(client.stats)
        self._failures = failures
        self._rng = random.Random()  # jitter only  # noqa: S311
        self._interval = interval  # the back-off's cap

    async def run(self) -> float | None:
        """One cycle; returns the back-off before the next one if it failed, else None."""
        if not await self._kafka_ready():
            log.debug("instance %s: poll skipped, Kafka unavailable", self._instance_id)
            metrics.POLLER_POLLS.labels(PROVIDER, "kafka_unavailable").inc()
            return None
        started, now = time.monotonic(), datetime.now(UTC)
        outcome, retry_in = "ok", None
        try:
            report = await self._poller.poll_once(now)
        except PollerError as exc:
            outcome = reason_of(exc)
            self._failures.failed(outcome, str(exc))
            retry_in = backoff_delay(self._failures.failures, self._interval, self._rng)
            if isinstance(exc, AuthError):
                metrics.POLLER_TOKEN_REFRESHES.labels(PROVIDER, "failure").inc()
            await _quietly(self._health.failed(exc, now))
        except KafkaUnavailableError as exc:
            # Not the provider's fault: the instance's health stays as it is.
            outcome = "kafka_unavailable"
            log.warning("instance %s: poll stopped, Kafka unavailable: %s", self._instance_id, exc)
        else:
            self._failures.succeeded()
            metrics.POLLER_SNAPSHOTS.labels(PROVIDER).inc(report.snapshots)
            await _quietly(self._health.succeeded(now))
        metrics.POLLER_POLLS.labels(PROVIDER, outcome).inc()
        metrics.POLLER_POLL_DURATION.labels(PROVIDER).observe(time.monotonic() - started)
        self._count_requests(self._client.stats)
        return retry_in

    def _count_requests(self, stats: ClientStats) -> None:
        metrics.POLLER_REQUESTS.labels(PROVIDER).inc(stats.requests - self._seen.requests)
        metrics.POLLER_RATE_LIMIT_WAITS.labels(PROVIDER).inc(
            stats.rate_limit_waits - self._seen.rate_limit_waits
        )
        metrics.POLLER_TOKEN_REFRESHES.labels(PROVIDER, "success").inc(
            stats.token_refreshes - self._seen.token_refreshes
        )
        self._seen = replace(stats)


async def _quietly(write: Awaitable[None]) -> None:
    """A health write that Kafka refused is retried with the next outcome; polling goes on."""
    try:
        await write
    except KafkaUnavailableError as exc:
        log.warning("instance health not written, Kafka unavailable: %s", exc)
