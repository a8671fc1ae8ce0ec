"""docs/reference/http-api.md: the ingress's HTTP API, from the OpenAPI document it serves."""

from __future__ import annotations

from typing import Any

from pipeline.docs_gen.markdown import code, header, table
from pipeline.docs_gen.schema_text import kind, properties
from pipeline.ingress.openapi import openapi_document
from pipeline.settings import REPO_ROOT

INTRO = (
    "The ingress (`pipeline ingress`, port 8080) serves this API and, at `GET /openapi.json`, "
    "the OpenAPI 3.1 document this page is made from. Admin routes need `Authorization: Bearer "
    "$PIPELINE_ADMIN_TOKEN`; every admin request is logged with a fingerprint of its token. "
    "What the fields of an instance and a subscription mean: [instances and subscriptions]"
    "(admin-api.md)."
)
SHOWN_SCHEMAS = ("Error", "Instance", "Subscription", "Queued", "ReplayWindow")


def render() -> str:
    document = openapi_document(REPO_ROOT / "topics")
    sections = [header("HTTP API", "the ingress's OpenAPI document", INTRO)]
    sections.append(document["info"]["description"] + "\n")
    by_tag: dict[str, list[str]] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            by_tag.setdefault(operation["tags"][0], []).append(_operation(method, path, operation))
    for tag, rendered in by_tag.items():
        sections.append(f"## {tag.capitalize()}\n")
        sections += rendered
    sections.append("## Schemas\n")
    schemas = document["components"]["schemas"]
    for name in SHOWN_SCHEMAS:
        rows = [(code(n), k, r, d) for n, k, r, d in properties(schemas[name])]
        sections.append(f"### {name}\n\n" + table(("field", "type", "required", "meaning"), rows))
    return "\n".join(sections)


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    parts = [f"### {method.upper()} {path}\n", operation["summary"] + "."]
    if operation.get("description"):
        parts[-1] += " " + operation["description"]
    parts[-1] += " " + ("Admin token required." if operation["security"] else "No token.") + "\n"
    params = operation.get("parameters", [])
    if params:
        rows = [
            (code(p["name"]), p["in"], "yes" if p["required"] else "", p["description"])
            for p in params
        ]
        parts.append(table(("parameter", "in", "required", "meaning"), rows))
    body = operation.get("requestBody")
    if body:
        schema = next(iter(body["content"].values()))["schema"]
        parts.append(f"Body: {kind(schema) if '$ref' in schema else schema.get('description')}\n")
    answers = [
        (code(status), answer["description"]) for status, answer in operation["responses"].items()
    ]
    parts.append(table(("status", "when"), answers))
    return "\n".join(parts)
