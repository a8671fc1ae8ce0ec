"""`pipeline ingress`: the aiohttp app (webhooks, admin API, health) and its lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from aiohttp import web

from pipeline.config.instances import Instance
from pipeline.config.subscriptions import Subscription
from pipeline.config.view import CompactedView
from pipeline.events.catalog import Catalog
from pipeline.health import KafkaProbe
from pipeline.ingress import admin_catalog, admin_instances, admin_subscriptions
from pipeline.ingress.admin_http import admin_errors
from pipeline.ingress.attempt_log import AttemptLog
from pipeline.ingress.auth import require_admin_token
from pipeline.ingress.context import INGRESS, Ingress
from pipeline.ingress.webhooks import receive_webhook
from pipeline.producer import DurableProducer
from pipeline.settings import Settings
from pipeline.web import add_health_routes, json_errors, serve_until_signal


def create_ingress_app(settings: Settings) -> web.Application:
    ingress = Ingress(
        settings=settings,
        producer=DurableProducer(
            settings.kafka_bootstrap, settings.ingress_ack_timeout, process="ingress"
        ),
        instances=CompactedView(
            settings.kafka_bootstrap, settings.topic("config.instances"), Instance.from_json
        ),
        health=CompactedView(
            settings.kafka_bootstrap, settings.topic("instances.health"), orjson.loads
        ),
        subscriptions=CompactedView(
            settings.kafka_bootstrap, settings.topic("config.subscriptions"), Subscription.from_json
        ),
        attempt_log=AttemptLog(settings.kafka_bootstrap, settings.topic("deliveries.attempts")),
        probe=KafkaProbe(settings.kafka_bootstrap),
    )
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[json_errors, require_admin_token, admin_errors],
    )
    app[INGRESS] = ingress
    app.router.add_post("/v1/webhooks/{provider}/{instance_key}", receive_webhook)
    admin_instances.add_routes(app)
    admin_subscriptions.add_routes(app)
    admin_catalog.add_routes(app, Catalog(settings.topics_dir))
    add_health_routes(app, ingress.ready)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    ingress = app[INGRESS]
    await ingress.producer.start()  # not fatal: webhooks answer 503 until Kafka is reachable
    ingress.start()
    yield
    await ingress.stop()
    await ingress.producer.stop()


async def run_ingress(settings: Settings) -> None:
    app = create_ingress_app(settings)
    await serve_until_signal(app, settings.bind_host, settings.ingress_port, "ingress")
