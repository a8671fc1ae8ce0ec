"""pipeline.ingress.server: the routes of DESIGN.md, the topics the ingress follows, and
`/readyz` answering ready only once the configuration is loaded and Kafka answers."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pipeline.ingress.context import INGRESS
from pipeline.ingress.server import build_app, create_ingress_app
from pipeline.settings import load_settings
from tests.unit.ingress.admin_support import RecordingProducer, make_ingress

ROUTES = {
    ("POST", "/v1/webhooks/{provider}/{instance_key}"),
    ("GET", "/v1/webhooks/{provider}/{instance_key}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/instances"),
    ("GET", "/v1/instances"),
    ("GET", "/v1/instances/{id}"),
    ("PATCH", "/v1/instances/{id}"),
    ("DELETE", "/v1/instances/{id}"),
    ("POST", "/v1/subscriptions"),
    ("GET", "/v1/subscriptions"),
    ("GET", "/v1/subscriptions/{id}"),
    ("PATCH", "/v1/subscriptions/{id}"),
    ("DELETE", "/v1/subscriptions/{id}"),
    ("POST", "/v1/subscriptions/{id}/rotate-secret"),
    ("GET", "/v1/subscriptions/{id}/attempts"),
    ("POST", "/v1/subscriptions/{id}/replay"),
    ("POST", "/v1/subscriptions/{id}/redrive"),
    ("POST", "/v1/subscriptions/{id}/test"),
    ("GET", "/v1/event-types"),
    ("GET", "/v1/oauth/authorize-url"),
}


def _routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route, the sub-applications' with their prefix."""
    found = set()
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            found |= _routes(resource.get_info()["app"])
            continue
        found |= {(route.method, resource.canonical) for route in resource}
    return found - {(method, path) for method, path in found if method == "HEAD"}


def test_the_app_serves_the_documented_routes(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path, topic_prefix="unit.", secret_keys="k1:" + "A" * 43 + "="
    )
    app = create_ingress_app(settings)
    assert _routes(app) == ROUTES
    ingress = app[INGRESS]
    assert ingress.settings is settings
    assert ingress.attempt_log.follower.topic == "unit.deliveries.attempts"


class Probe:
    def __init__(self) -> None:
        self.answer = True

    async def ready(self) -> bool:
        return self.answer


async def test_readyz_waits_for_the_configuration_and_kafka() -> None:
    probe = Probe()
    ingress = make_ingress(RecordingProducer(), probe)
    ingress.instances.caught_up.clear()
    ingress.subscriptions.caught_up.clear()
    async with TestClient(TestServer(build_app(ingress), host="127.0.0.1")) as client:

        async def readyz() -> int:
            async with client.get("/readyz") as response:
                return response.status

        assert await readyz() == 503
        ingress.instances.caught_up.set()
        assert await readyz() == 503  # subscriptions not loaded yet
        ingress.subscriptions.caught_up.set()
        assert await readyz() == 200
        probe.answer = False
        assert await readyz() == 503
        async with client.get("/healthz") as response:
            assert response.status == 200  # alive all along
