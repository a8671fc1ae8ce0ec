"""Reading admin API request bodies: each helper names the field it rejects."""

from __future__ import annotations

from typing import Any

from pipeline.errors import PipelineError
from pipeline.http.urls import URLSyntaxError, callback_host


class RequestError(PipelineError):
    """A request body field is missing or invalid; answered 422 with the field named."""

    code = "invalid_field"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class NotFoundError(PipelineError):
    """The resource named in the path does not exist; answered 404."""

    code = "not_found"


def text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RequestError(key, "is required and must be a non-empty string")
    return value.strip()


def optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(key, "must be a string or null")
    return value.strip() or None


def boolean(body: dict[str, Any], key: str, *, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise RequestError(key, "must be true or false")
    return value


def url(body: dict[str, Any], key: str, *, field_name: str | None = None) -> str | None:
    """An absolute http(s) URL without credentials, or None; read as aiohttp will connect to it."""
    value = body.get(key)
    if value is None:
        return None
    name = field_name or key
    if not isinstance(value, str):
        raise RequestError(name, "must be a URL string")
    try:
        callback_host(value)
    except URLSyntaxError as exc:
        problem = "must not carry credentials" if exc.reason == "credentials_in_url" else None
        raise RequestError(name, problem or "must be an absolute http or https URL") from exc
    return value
