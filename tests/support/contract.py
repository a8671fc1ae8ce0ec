"""Validate a record against its topic's schema in `topics/schemas/`, `$ref`s included."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
import orjson
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from pipeline.delivery.tasks import encode
from pipeline.settings import REPO_ROOT

SCHEMAS = REPO_ROOT / "topics" / "schemas"


@cache
def _registry() -> Registry[Any]:
    """Every schema under its `$id`, so that `{"$ref": "cloudevent.json"}` resolves."""
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = orjson.loads(path.read_bytes())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def validator(schema_file: str) -> Draft202012Validator:
    schema = orjson.loads((SCHEMAS / schema_file).read_bytes())
    return Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def assert_valid(schema_file: str, value: Any) -> None:
    """`value` (decoded JSON, or the bytes written) satisfies topics/schemas/`schema_file`."""
    validator(schema_file).validate(_as_written(value))


def is_valid(schema_file: str, value: Any) -> bool:
    return validator(schema_file).is_valid(_as_written(value))


def _as_written(value: Any) -> Any:
    """A typed record as its topic holds it (msgspec's JSON), bytes decoded, anything else as is."""
    if isinstance(value, msgspec.Struct):
        value = encode(value)
    return orjson.loads(value) if isinstance(value, bytes) else value
