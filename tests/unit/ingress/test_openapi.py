"""pipeline.ingress.openapi: `GET /openapi.json` is a valid OpenAPI 3.1 document, served without
the admin token, naming exactly the routes the app serves, and what the admin API shows matches
its schemas."""

from __future__ import annotations

from typing import Any

import orjson
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from pipeline.ingress.openapi import openapi_document
from pipeline.ingress.server import build_app
from pipeline.settings import REPO_ROOT
from tests.unit.ingress.admin_support import RecordingProducer, make_ingress, serving
from tests.unit.ingress.test_server import _routes

DOCUMENT = openapi_document(REPO_ROOT / "topics")


def _schema(name: str) -> Draft202012Validator:
    wrapper = {"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]}
    return Draft202012Validator(wrapper, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_document_is_valid_openapi() -> None:
    validate(DOCUMENT)
    assert DOCUMENT["openapi"] == "3.1.0"


def test_the_document_names_exactly_the_routes_the_app_serves() -> None:
    documented = {
        (method.upper(), path)
        for path, operations in DOCUMENT["paths"].items()
        for method in operations
    }
    assert documented == _routes(build_app(make_ingress(RecordingProducer())))


def test_admin_operations_need_the_token_and_say_so() -> None:
    for path, operations in DOCUMENT["paths"].items():
        for operation in operations.values():
            needs_token = path.startswith("/v1/") and not path.startswith("/v1/webhooks/")
            assert bool(operation["security"]) is needs_token, path
            if needs_token:
                assert "401" in operation["responses"], path


def test_the_error_codes_of_the_webhook_door_are_documented() -> None:
    answers = DOCUMENT["paths"]["/v1/webhooks/{provider}/{instance_key}"]["post"]["responses"]
    text = orjson.dumps(answers).decode()
    for code in ("invalid_signature", "unknown_instance", "body_too_large", "rate_limited"):
        assert f"`{code}`" in text
    assert answers["413"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


async def test_served_without_a_token_and_what_the_api_shows_matches_its_schemas() -> None:
    async with serving() as admin:
        async with admin.client.get("/openapi.json") as response:
            assert response.status == 200
            assert await response.json() == orjson.loads(orjson.dumps(DOCUMENT))
        status, instance = await admin.call(
            "POST", "/instances", {"provider": "oktopost", "id": "okto1", "tags": ["a"]}
        )
        assert status == 201
        _valid("Instance", instance)
        status, subscription = await admin.call(
            "POST", "/subscriptions", {"name": "s", "url": "https://example.com/h"}
        )
        assert status == 201
        _valid("Subscription", subscription)
        status, listed = await admin.call("GET", "/subscriptions")
        _valid("SubscriptionList", listed)
        status, missing = await admin.call("GET", "/instances/nope")
        assert status == 404
        _valid("Error", missing)


def _valid(name: str, body: Any) -> None:
    errors = [error.message for error in _schema(name).iter_errors(body)]
    assert errors == [], f"{name}: {errors}"
