"""A JSON Schema property in a few words, for the tables of the generated pages."""

from __future__ import annotations

from typing import Any


def kind(schema: dict[str, Any]) -> str:
    """`string (date-time)`, `string or null`, `one of a, b`, `"1.0"`, `object`, `any`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "const" in schema:
        return f'"{schema["const"]}"'
    if "enum" in schema:
        return "one of " + ", ".join(str(value) for value in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(kind(option) for option in schema["anyOf"])
    types = schema.get("type")
    if types is None:
        return "any"
    named = " or ".join(types) if isinstance(types, list) else str(types)
    if "format" in schema:
        named += f" ({schema['format']})"
    if named == "array" and isinstance(schema.get("items"), dict):
        named = f"array of {kind(schema['items'])}"
    return named


def properties(schema: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(name, kind, required, description) of an object schema's properties."""
    required = set(schema.get("required", ()))
    return [
        (name, kind(prop), "yes" if name in required else "", prop.get("description", ""))
        for name, prop in schema.get("properties", {}).items()
    ]
