"""`POST /v1/webhooks/{provider}/{key}` → verify → `webhooks.raw` → 202 after Kafka's ack.

401 bad or missing signature (nothing written); 404 unknown or disabled instance; 413 body over the
limit; 429 the instance is over its `max_requests_per_second` (with `Retry-After`, nothing
written); 400 unparseable body from an authenticated sender (kept on `events.invalid`); 503 when
Kafka cannot take the record. A Hootsuite batch of pings only is answered 200 and not written. A
managed Oktopost instance's request is verified with the Secret of the webhook its `webhookId`
names.

This is the hot path: what does not depend on the request (each provider's metric children, topic
names, kept headers) is resolved once, when the app is built, and the route sits outside the
admin API's middlewares.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from pipeline import metrics
from pipeline.config.instances import Instance, instance_id_from_key
from pipeline.config.view import UnreadableRecordError
from pipeline.contract.topics import Topic
from pipeline.errors import KafkaUnavailableError
from pipeline.events.envelope import EnvelopeOptions, WebhookEnvelope, encode_envelope
from pipeline.events.invalid import encode_invalid, invalid_record
from pipeline.http.openapi import Answer, Operation, Param, ref
from pipeline.ingress.context import Ingress
from pipeline.ingress.rate_limit import RateLimiter, retry_after
from pipeline.oktopost.registry import CONTENT_IDENTITY, is_managed, webhook_secret
from pipeline.providers.base import PayloadError, Provider, SignatureError
from pipeline.providers.registry import PROVIDERS
from pipeline.web import error, json_response

log = logging.getLogger(__name__)
KEPT_HEADERS = ("content-type", "user-agent")


@dataclass
class Route:
    """One provider's webhooks: the provider and its metric children, looked up once."""

    name: str  # the metrics' label: the provider, or "unknown"
    provider: Provider | None
    kept_headers: tuple[str, ...] = ()
    answered: dict[int, Callable[[], None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.duration = metrics.INGRESS_DURATION.labels(self.name)
        self.received_bytes = metrics.INGRESS_BYTES.labels(self.name)
        if self.provider is not None:
            self.kept_headers = (*KEPT_HEADERS, *self.provider.kept_headers)

    def count(self, status: int) -> None:
        counted = self.answered.get(status)
        if counted is None:
            counted = self.answered[status] = metrics.INGRESS_REQUESTS.labels(
                self.name, str(status)
            ).inc
        counted()


@functools.lru_cache(maxsize=4096)
def _instance_id(key: str) -> str | None:
    return instance_id_from_key(key)


def enabled_instance(ingress: Ingress, key: str, provider: str) -> Instance | None:
    """The enabled instance of `provider` at webhook URL segment `key`, or None (404); raises
    `UnreadableRecordError` when its record cannot be read here (503: not a deleted one)."""
    instance_id = _instance_id(key)
    instance = ingress.instances.get(instance_id) if instance_id else None
    if instance is None or not instance.enabled or instance.provider != provider:
        return None
    return instance


_second_prefix: tuple[int, str] = (-1, "")


def received_at() -> str:
    """Now as RFC 3339 (UTC, milliseconds, `Z`); the date and time formatted once per second."""
    global _second_prefix  # noqa: PLW0603 - a one-entry cache of this module's own
    now = time.time()
    second = int(now)
    micro = round((now - second) * 1_000_000)  # rounded as datetime.fromtimestamp rounds
    if micro == 1_000_000:
        second, micro = second + 1, 0
    if _second_prefix[0] != second:
        _second_prefix = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))
    return f"{_second_prefix[1]}{micro // 1000:03d}Z"


class Webhooks:
    """The webhook handler of one ingress: `handle` is the aiohttp handler."""

    def __init__(self, ingress: Ingress) -> None:
        self._ingress = ingress
        self._routes = {name: Route(name, provider) for name, provider in PROVIDERS.items()}
        self._unknown = Route("unknown", None)
        self._limit = ingress.settings.max_body_bytes
        self._raw_topic = ingress.settings.topic(Topic.WEBHOOKS_RAW)
        self._invalid_topic = ingress.settings.topic(Topic.EVENTS_INVALID)
        self._limiter = RateLimiter()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        route = self._routes.get(request.match_info["provider"], self._unknown)
        response = await self._answer(request, route)
        route.count(response.status)
        route.duration.observe(time.perf_counter() - started)
        return response

    async def _answer(  # noqa: PLR0911 - one early answer per status code of the contract
        self, request: web.Request, route: Route
    ) -> web.StreamResponse:
        request_id = uuid.uuid4().hex
        headers = {"X-Request-Id": request_id}
        provider = route.provider
        if provider is None:
            return error(
                404, "unknown_provider", f"no provider {request.match_info['provider']!r}", headers
            )
        ingress = self._ingress
        if not ingress.instances.caught_up.is_set():
            return error(503, "not_ready", "instances are still loading from Kafka", headers)
        try:
            instance = self._instance(request.match_info["instance_key"], route.name)
        except UnreadableRecordError as exc:  # not a deleted instance: the sender retries
            log.warning("503 for %s: %s", request_id, exc)
            message = "this instance's configuration cannot be read here; retry later"
            return error(503, exc.code, message, headers)
        if instance is None:
            return error(404, "unknown_instance", "no enabled instance at this URL", headers)
        if (request.content_length or 0) > self._limit:
            return error(413, "body_too_large", f"the body is over {self._limit} bytes", headers)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:  # a chunked body, counted as it arrives
            return error(413, "body_too_large", f"the body is over {self._limit} bytes", headers)
        route.received_bytes.inc(len(body))
        managed = is_managed(instance)
        try:
            _verify(provider, instance, managed, request.headers, body)
        except SignatureError as exc:
            log.info("rejected %s webhook for %s: %s", route.name, instance.id, exc)
            return error(401, exc.code, str(exc), headers)
        wait = self._limiter.admit(instance)
        if wait is not None:  # counted after the signature: strangers cannot spend the budget
            headers["Retry-After"] = retry_after(wait)
            return error(429, "rate_limited", "the instance is over its request rate", headers)
        kept = _kept_headers(route, request.headers)
        if isinstance(kept, str):
            message = f"header {kept!r} is not valid UTF-8"
            return error(400, "invalid_header", message, headers)
        envelope = _envelope(request_id, route, instance, kept, body, managed=managed)
        try:
            payload = provider.parse(body)
        except PayloadError as exc:
            return await self._reject_unparseable(envelope, exc, headers)
        if not provider.has_events(payload):
            return web.Response(status=200, headers=headers)
        return await self._write(envelope, headers, empty_body=provider.empty_acknowledgement)

    def _instance(self, key: str, provider: str) -> Instance | None:
        return enabled_instance(self._ingress, key, provider)

    async def _write(
        self, envelope: WebhookEnvelope, headers: dict[str, str], *, empty_body: bool
    ) -> web.StreamResponse:
        key = envelope.instance_id.encode()
        try:
            await self._ingress.producer.send(self._raw_topic, key, encode_envelope(envelope))
        except KafkaUnavailableError as exc:
            log.warning("503 for %s: %s", envelope.request_id, exc)
            return error(503, exc.code, "Kafka is unavailable; retry later", headers)
        if empty_body:
            return web.Response(status=202, headers=headers)
        return json_response({"request_id": envelope.request_id}, 202, headers)

    async def _reject_unparseable(
        self, envelope: WebhookEnvelope, exc: PayloadError, headers: dict[str, str]
    ) -> web.StreamResponse:
        """Keep the raw body on `events.invalid` before answering 400, so nothing is lost."""
        record = invalid_record(
            stage="ingress",
            reason=exc.code,
            message=str(exc),
            provider=envelope.provider,
            instance_id=envelope.instance_id,
            record=envelope,
        )
        key = envelope.instance_id.encode()
        try:
            await self._ingress.producer.send(self._invalid_topic, key, encode_invalid(record))
        except KafkaUnavailableError as unavailable:
            return error(503, unavailable.code, "Kafka is unavailable; retry later", headers)
        metrics.EVENTS_INVALID.labels("ingress", exc.code).inc()
        return error(400, exc.code, str(exc), headers)


def _verify(
    provider: Provider, instance: Instance, managed: bool, headers: Any, body: bytes
) -> None:
    """`SignatureError` unless signed with the instance's secret (managed Oktopost: with the
    Secret of the webhook the request names)."""
    secret = webhook_secret(instance, headers, body) if managed else instance.signing_secret
    if managed and secret is None:  # never an empty key: anyone could sign with it
        raise SignatureError("the request names none of the instance's webhooks")
    provider.verify(secret, headers, body, time.time())


def _kept_headers(route: Route, given: Any) -> dict[str, str] | str:
    """The headers the envelope keeps, or the name of one that is not UTF-8: aiohttp hands such
    bytes on as lone surrogates, which no JSON encoder writes."""
    kept = {name: given[name] for name in route.kept_headers if name in given}
    for name, value in kept.items():
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                return name
    return kept


def _envelope(
    request_id: str,
    route: Route,
    instance: Instance,
    kept: dict[str, str],
    body: bytes,
    *,
    managed: bool,
) -> WebhookEnvelope:
    identity = CONTENT_IDENTITY if managed else msgspec.UNSET
    return WebhookEnvelope(
        request_id=request_id,
        provider=route.name,
        instance_id=instance.id,
        received_at=received_at(),
        headers=kept,
        options=EnvelopeOptions(include_raw=instance.include_raw, identity=identity),
        body=body,
    )


OPERATIONS = (
    Operation(
        "post",
        "/v1/webhooks/{provider}/{instance_key}",
        "Receive a provider's webhook",
        "webhooks",
        (
            Answer(
                202,
                "on webhooks.raw and acknowledged by Kafka (acks=all, idempotent producer); "
                "empty for Hootsuite, which asks for an empty 2xx",
                ref("Accepted"),
                headers=("X-Request-Id",),
            ),
            Answer(200, "a Hootsuite batch of pings only: answered, nothing written"),
            Answer(
                400,
                "an authenticated sender's body cannot be parsed (kept on events.invalid), or a "
                "header the record keeps is not UTF-8 (nothing written)",
                codes=("unparseable_body", "invalid_header"),
            ),
            Answer(
                401,
                "bad, stale or missing signature; nothing written",
                codes=("invalid_signature",),
            ),
            Answer(
                404,
                "no enabled instance of that provider at that URL",
                codes=("unknown_instance", "unknown_provider"),
            ),
            Answer(413, "body over PIPELINE_MAX_BODY_BYTES", codes=("body_too_large",)),
            Answer(
                429,
                "the instance is over its max_requests_per_second (a token bucket of `burst`, "
                "default one second's worth, counted after the signature check, per ingress "
                "process); Retry-After gives the whole seconds until the next is admitted; "
                "nothing written",
                codes=("rate_limited",),
                headers=("Retry-After",),
            ),
            Answer(
                503,
                "Kafka did not acknowledge within PIPELINE_INGRESS_ACK_TIMEOUT, the instances are "
                "still loading, or this instance's record cannot be opened here",
                codes=("kafka_unavailable", "not_ready", "config_unreadable"),
            ),
        ),
        description="Authenticated per provider: each checks its own signature (see the "
        "providers reference). Every answer carries `X-Request-Id`.",
        params=(
            Param(
                "provider",
                "path",
                "oktopost, hootsuite, standard, meta, x, linkedin, tiktok or youtube",
            ),
            Param("instance_key", "path", "the base64url instance id, as in its webhook_url"),
        ),
        body={"description": "the provider's body, byte for byte as it signed it"},
        content_type="*/*",
    ),
)
