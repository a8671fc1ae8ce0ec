"""`POST /v1/webhooks/{provider}/{key}` → verify → `webhooks.raw` → 202 after Kafka's ack.

401 bad or missing signature (nothing written); 404 unknown or disabled instance; 413 body over the
limit; 400 unparseable body from an authenticated sender (kept on `events.invalid`); 503 when Kafka
cannot take the record. A Hootsuite batch of pings only is answered 200 and not written.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from pipeline import metrics
from pipeline.config.instances import Instance, instance_id_from_key
from pipeline.errors import KafkaUnavailableError
from pipeline.events.cloudevent import rfc3339
from pipeline.events.invalid import invalid_record
from pipeline.ingress.context import INGRESS, Ingress
from pipeline.providers.base import PayloadError, Provider, SignatureError
from pipeline.providers.registry import PROVIDERS
from pipeline.web import error, json_response

log = logging.getLogger(__name__)
KEPT_HEADERS = ("content-type", "user-agent")


async def receive_webhook(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    name = request.match_info["provider"]
    label = name if name in PROVIDERS else "unknown"
    response = await _handle(request, request.app[INGRESS], name)
    metrics.INGRESS_REQUESTS.labels(label, str(response.status)).inc()
    metrics.INGRESS_DURATION.labels(label).observe(time.perf_counter() - started)
    return response


async def _handle(  # noqa: PLR0911 - one early answer per status code of the contract
    request: web.Request, ingress: Ingress, name: str
) -> web.StreamResponse:
    request_id = uuid.uuid4().hex
    headers = {"X-Request-Id": request_id}
    provider = PROVIDERS.get(name)
    if provider is None:
        return error(404, "unknown_provider", f"no provider {name!r}", headers)
    if not ingress.instances.caught_up.is_set():
        return error(503, "not_ready", "instances are still loading from Kafka", headers)
    instance = _instance(ingress, request.match_info["instance_key"], name)
    if instance is None:
        return error(404, "unknown_instance", "no enabled instance at this URL", headers)
    limit = ingress.settings.max_body_bytes
    if (request.content_length or 0) > limit:
        return error(413, "body_too_large", f"the body is over {limit} bytes", headers)
    body = await request.read()
    metrics.INGRESS_BYTES.labels(name).inc(len(body))
    try:
        provider.verify(instance.signing_secret, request.headers, body, time.time())
    except SignatureError as exc:
        log.info("rejected %s webhook for %s: %s", name, instance.id, exc)
        return error(401, exc.code, str(exc), headers)
    envelope = _envelope(request_id, provider, instance, request, body)
    try:
        payload = provider.parse(body)
    except PayloadError as exc:
        return await _reject_unparseable(ingress, envelope, exc, headers)
    if not provider.has_events(payload):
        return web.Response(status=200, headers=headers)
    return await _write(ingress, envelope, headers, empty_body=name == "hootsuite")


def _instance(ingress: Ingress, key: str, provider: str) -> Instance | None:
    instance_id = instance_id_from_key(key)
    instance = ingress.instances.get(instance_id) if instance_id else None
    if instance is None or not instance.enabled or instance.provider != provider:
        return None
    return instance


def _envelope(
    request_id: str, provider: Provider, instance: Instance, request: web.Request, body: bytes
) -> dict[str, Any]:
    kept = (*KEPT_HEADERS, *provider.kept_headers)
    return {
        "schema": "webhook-envelope/1",
        "request_id": request_id,
        "provider": provider.name,
        "instance_id": instance.id,
        "received_at": rfc3339(datetime.now(UTC)),
        "headers": {name: request.headers[name] for name in kept if name in request.headers},
        "options": {"include_raw": instance.include_raw},
        "body": base64.b64encode(body).decode(),
    }


async def _write(
    ingress: Ingress, envelope: dict[str, Any], headers: dict[str, str], *, empty_body: bool
) -> web.StreamResponse:
    topic = ingress.settings.topic("webhooks.raw")
    try:
        await ingress.producer.send(topic, envelope["instance_id"].encode(), orjson.dumps(envelope))
    except KafkaUnavailableError as exc:
        log.warning("503 for %s: %s", envelope["request_id"], exc)
        return error(503, exc.code, "Kafka is unavailable; retry later", headers)
    if empty_body:  # Hootsuite asks for an empty 2xx body
        return web.Response(status=202, headers=headers)
    return json_response({"request_id": envelope["request_id"]}, 202, headers)


async def _reject_unparseable(
    ingress: Ingress, envelope: dict[str, Any], exc: PayloadError, headers: dict[str, str]
) -> web.StreamResponse:
    """Keep the raw body on `events.invalid` before answering 400, so nothing is lost."""
    record = invalid_record(
        stage="ingress",
        reason=exc.code,
        message=str(exc),
        provider=envelope["provider"],
        instance_id=envelope["instance_id"],
        record=envelope,
    )
    topic = ingress.settings.topic("events.invalid")
    try:
        await ingress.producer.send(topic, envelope["instance_id"].encode(), orjson.dumps(record))
    except KafkaUnavailableError as unavailable:
        return error(503, unavailable.code, "Kafka is unavailable; retry later", headers)
    metrics.EVENTS_INVALID.labels("ingress", exc.code).inc()
    return error(400, exc.code, str(exc), headers)
