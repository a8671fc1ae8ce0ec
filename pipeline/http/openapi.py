"""Typed descriptions of HTTP operations, and the OpenAPI 3.1 document built from them.

Each route module describes its operations beside its `add_routes` (`Operation`); the ingress
assembles them into the document it serves at `GET /openapi.json` and the docs' API reference is
generated from that document. A unit test holds the routes and the descriptions to each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Method = Literal["get", "post", "patch", "delete"]
Schema = dict[str, Any]  # a JSON Schema (2020-12, as OpenAPI 3.1 uses)
ERROR_SCHEMA = "Error"


def ref(name: str) -> Schema:
    """A reference to a schema under `components.schemas`."""
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class Param:
    """A path or query parameter."""

    name: str
    where: Literal["path", "query"]
    description: str
    schema: Schema = field(default_factory=lambda: {"type": "string"})
    required: bool = False

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.where,
            "description": self.description,
            "required": self.required or self.where == "path",
            "schema": self.schema,
        }


@dataclass(frozen=True)
class Answer:
    """One status an operation answers: its meaning, and for errors the `error.code` values."""

    status: int
    description: str
    schema: Schema | None = None
    codes: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()  # names of response headers worth knowing (Retry-After, …)

    def document(self) -> dict[str, Any]:
        description = self.description
        if self.codes:
            description += " (`error.code`: " + ", ".join(f"`{c}`" for c in self.codes) + ")"
        answer: dict[str, Any] = {"description": description}
        schema = ref(ERROR_SCHEMA) if self.codes and self.schema is None else self.schema
        if schema is not None:
            answer["content"] = {"application/json": {"schema": schema}}
        if self.headers:
            answer["headers"] = {name: {"schema": {"type": "string"}} for name in self.headers}
        return answer


@dataclass(frozen=True)
class Operation:
    """One method on one path, as `add_routes` registers it (path relative to the app's root)."""

    method: Method
    path: str
    summary: str
    tag: str
    answers: tuple[Answer, ...]
    description: str = ""
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    admin: bool = False  # behind the admin bearer token
    content_type: str = "application/json"

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "operationId": _operation_id(self.method, self.path),
            "summary": self.summary,
            "tags": [self.tag],
            "responses": {str(a.status): a.document() for a in self.answers},
        }
        if self.description:
            found["description"] = self.description
        if self.params:
            found["parameters"] = [param.document() for param in self.params]
        if self.body is not None:
            content = {self.content_type: {"schema": self.body}}
            found["requestBody"] = {"required": True, "content": content}
        found["security"] = [{"adminToken": []}] if self.admin else []
        return found


def _operation_id(method: str, path: str) -> str:
    words = [part.strip("{}").replace("-", "_") for part in path.split("/") if part]
    return "_".join([method, *words])


def document(
    title: str,
    version: str,
    description: str,
    operations: tuple[Operation, ...],
    schemas: dict[str, Schema],
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations`, in the order given."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method] = operation.document()
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "one of the tokens in PIPELINE_ADMIN_TOKEN",
                }
            },
        },
    }
