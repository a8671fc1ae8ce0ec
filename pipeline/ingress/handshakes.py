"""`GET /v1/webhooks/{provider}/{key}`: a social platform verifying the instance's webhook URL.

Meta (`hub.verify_token`, `hub.challenge`), X (`crc_token`), LinkedIn (`challengeCode`) and a
YouTube WebSub hub (`hub.topic`, `hub.challenge`) check the URL before they send to it, and some
again later; each provider module in `HANDSHAKES` answers its platform's. 200 with the platform's
answer; 403 `handshake_refused` when the request does not prove it knows the instance (a wrong
token, a topic never asked for); 400 `missing_parameter`; 404 unknown or disabled instance; 405
for a provider whose platform sends no such GET; 503 while the configuration loads or, for a
WebSub lease that must be recorded first, when Kafka cannot take it. Nothing else is written.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from pipeline import metrics
from pipeline.config.view import UnreadableRecordError
from pipeline.errors import KafkaUnavailableError, PipelineError
from pipeline.http.openapi import Answer, Operation, Param
from pipeline.ingress.context import Ingress
from pipeline.ingress.webhooks import enabled_instance
from pipeline.providers.base import (
    HandshakeParameterError,
    HandshakeRefusedError,
    InstanceKeys,
)
from pipeline.providers.registry import HANDSHAKES, PROVIDERS
from pipeline.web import error
from pipeline.websub.leases import LeaseWriter

log = logging.getLogger(__name__)


class Handshakes:
    """The verification handler of one ingress: `handle` is the aiohttp handler."""

    def __init__(self, ingress: Ingress) -> None:
        self._ingress = ingress
        self._leases = LeaseWriter(ingress.settings, ingress.producer)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        name = request.match_info["provider"]
        label = name if name in PROVIDERS else "unknown"
        response = await self._answer(request, name)
        metrics.INGRESS_REQUESTS.labels(label, str(response.status)).inc()
        metrics.INGRESS_DURATION.labels(label).observe(time.perf_counter() - started)
        return response

    async def _answer(  # noqa: PLR0911 - one early answer per status code of the contract
        self, request: web.Request, name: str
    ) -> web.StreamResponse:
        if name not in PROVIDERS:
            return error(404, "unknown_provider", f"no provider {name!r}")
        if not self._ingress.instances.caught_up.is_set():
            return error(503, "not_ready", "instances are still loading from Kafka")
        try:
            instance = enabled_instance(self._ingress, request.match_info["instance_key"], name)
        except UnreadableRecordError as exc:
            return error(503, exc.code, "this instance's configuration cannot be read here")
        if instance is None:
            return error(404, "unknown_instance", "no enabled instance at this URL")
        provider = HANDSHAKES.get(name)
        if provider is None:
            message = f"{name} verifies no webhook URL with a GET; it POSTs its events here"
            return error(405, "method_not_allowed", message, {"Allow": "POST"})
        keys = InstanceKeys(
            instance_id=instance.id,
            signing_secret=instance.signing_secret,
            verify_token=instance.verify_token,
            channels=tuple(instance.channels),
        )
        try:
            answer = provider.handshake(keys, request.query)
            if answer.lease is not None:  # recorded first: the WebSub manager renews from it
                await self._leases.record(instance.id, answer.lease)
        except (HandshakeRefusedError, HandshakeParameterError) as exc:
            log.info("%s handshake for %s refused: %s", name, instance.id, exc)
            return _refused(exc)
        except KafkaUnavailableError as exc:
            return error(503, exc.code, "Kafka is unavailable; retry later")
        return web.Response(body=answer.body, content_type=answer.content_type)


def _refused(exc: PipelineError) -> web.Response:
    status = 403 if isinstance(exc, HandshakeRefusedError) else 400
    return error(status, exc.code, str(exc))


OPERATIONS = (
    Operation(
        "get",
        "/v1/webhooks/{provider}/{instance_key}",
        "Answer a platform's verification",
        "webhooks",
        (
            Answer(
                200,
                "the platform's expected answer: Meta's and a WebSub hub's challenge as text, X's "
                "response_token and LinkedIn's challengeResponse as JSON",
                {"type": "string"},
            ),
            Answer(
                400,
                "a parameter the platform always sends is missing",
                codes=("missing_parameter",),
            ),
            Answer(
                403,
                "the request does not prove it knows the instance (a wrong hub.verify_token, a "
                "WebSub topic the instance never asked for)",
                codes=("handshake_refused",),
            ),
            Answer(
                404,
                "no enabled instance of that provider at that URL",
                codes=("unknown_instance", "unknown_provider"),
            ),
            Answer(
                405,
                "the provider's platform sends no verification request (oktopost, hootsuite, "
                "standard, tiktok)",
                codes=("method_not_allowed",),
                headers=("Allow",),
            ),
            Answer(
                503,
                "the instances are still loading, this instance's record cannot be opened here, "
                "or Kafka did not take a WebSub lease",
                codes=("not_ready", "config_unreadable", "kafka_unavailable"),
            ),
        ),
        description="Meta `hub.mode`/`hub.verify_token`/`hub.challenge`, X `crc_token`, LinkedIn "
        "`challengeCode`, a YouTube WebSub hub's `hub.mode`/`hub.topic`/`hub.challenge`/"
        "`hub.lease_seconds` (the lease is written to websub.leases before the answer).",
        params=(
            Param("provider", "path", "meta, x, linkedin or youtube"),
            Param("instance_key", "path", "the base64url instance id, as in its webhook_url"),
        ),
    ),
)
