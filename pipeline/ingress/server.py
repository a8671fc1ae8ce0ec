"""`pipeline ingress`: the aiohttp app (webhooks, admin API, health) and its lifecycle.

The webhook route and the health pages sit on the root application, whose one middleware gives
aiohttp's own errors the JSON shape; the admin API is a sub-application under `/v1` with its
token and error middlewares, which webhook requests never pass through.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from pipeline.config.keyring import key_ring_for
from pipeline.config.sealing import ConfigCodec
from pipeline.config.view import CompactedView
from pipeline.contract.headers import RecordHeaders
from pipeline.contract.topics import Topic
from pipeline.events.catalog import Catalog
from pipeline.health import KafkaProbe
from pipeline.ingress import openapi
from pipeline.ingress.admin import catalog, instances, oauth, subscriptions
from pipeline.ingress.admin.auth import require_admin_token
from pipeline.ingress.admin.http import admin_errors
from pipeline.ingress.context import INGRESS, Ingress
from pipeline.ingress.handshakes import Handshakes
from pipeline.ingress.readmodels.attempt_log import AttemptLog
from pipeline.ingress.webhooks import Webhooks
from pipeline.metrics import render as render_metrics
from pipeline.pollers.instance_health import decode_health
from pipeline.producer import DurableProducer
from pipeline.settings import Settings
from pipeline.web import add_health_routes, json_errors, serve_until_signal

Render = Callable[[], tuple[bytes, str]]
MEMBER_LOAD_WAIT_SECONDS = 30.0


def create_ingress_app(settings: Settings, render: Render = render_metrics) -> web.Application:
    codec = ConfigCodec(key_ring_for(settings))
    ingress = Ingress(
        settings=settings,
        producer=DurableProducer(
            settings.kafka_bootstrap,
            settings.ingress_ack_timeout,
            process="ingress",
            headers=RecordHeaders.from_manifest(settings),
        ),
        instances=CompactedView(
            settings.kafka_bootstrap,
            settings.topic(Topic.CONFIG_INSTANCES),
            codec.instance_from_json,
        ),
        health=CompactedView(
            settings.kafka_bootstrap, settings.topic(Topic.INSTANCES_HEALTH), decode_health
        ),
        subscriptions=CompactedView(
            settings.kafka_bootstrap,
            settings.topic(Topic.CONFIG_SUBSCRIPTIONS),
            codec.subscription_from_json,
        ),
        attempt_log=AttemptLog(settings.kafka_bootstrap, settings.topic(Topic.DELIVERIES_ATTEMPTS)),
        probe=KafkaProbe(settings.kafka_bootstrap),
        codec=codec,
    )
    app = build_app(ingress, render)
    app.cleanup_ctx.append(_lifecycle)
    return app


def build_app(ingress: Ingress, render: Render = render_metrics) -> web.Application:
    """The routes and middlewares over `ingress` (without starting it: tests give their own)."""
    settings = ingress.settings
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[json_errors])
    app[INGRESS] = ingress
    app.router.add_post("/v1/webhooks/{provider}/{instance_key}", Webhooks(ingress).handle)
    # The platforms' verification of the same URL (Meta, X, LinkedIn, YouTube's WebSub hub)
    app.router.add_get("/v1/webhooks/{provider}/{instance_key}", Handshakes(ingress).handle)
    add_health_routes(app, ingress.ready, render)
    openapi.add_route(app, settings.topics_dir)
    app.add_subapp("/v1", _admin_app(settings, ingress))
    return app


def _admin_app(settings: Settings, ingress: Ingress) -> web.Application:
    admin = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[require_admin_token, admin_errors]
    )
    admin[INGRESS] = ingress
    instances.add_routes(admin)
    subscriptions.add_routes(admin)
    oauth.add_routes(admin)
    catalog.add_routes(admin, Catalog(settings.topics_dir))
    return admin


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    ingress = app[INGRESS]
    await ingress.producer.start()  # not fatal: webhooks answer 503 until Kafka is reachable
    ingress.start()
    # The start-up heap (modules, schemas, app) lives as long as the process: out of the
    # collector's sight, an oldest-generation collection no longer walks it (~40 ms each here,
    # one request's tail latency whenever it ran under load).
    gc.collect()
    gc.freeze()
    yield
    await ingress.stop()
    await ingress.producer.stop()


async def run_ingress(
    settings: Settings, *, reuse_port: bool = False, render: Render = render_metrics
) -> None:
    """Serve until a signal; with `reuse_port`, beside the other processes on the same port.

    Alone, the ingress listens at once and answers 503 `not_ready` until the instances are
    loaded. Beside others (`reuse_port`), a member that starts or restarts opens the port only once
    it has loaded them (at most `MEMBER_LOAD_WAIT_SECONDS`), so the kernel hands connections to it
    only when it can accept them and its siblings keep serving meanwhile.
    """
    app = create_ingress_app(settings, render)
    ingress = app[INGRESS]

    async def loaded() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ingress.instances.caught_up.wait(), MEMBER_LOAD_WAIT_SECONDS)

    await serve_until_signal(
        app,
        settings.bind_host,
        settings.ingress_port,
        "ingress",
        reuse_port=reuse_port,
        before_listening=loaded if reuse_port else None,
    )
