"""What every provider module offers the ingress (verify, parse) and the normalize agent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from pipeline.errors import PipelineError
from pipeline.events.cloudevent import Lineage


class SignatureError(PipelineError):
    """The request is not from the instance's provider: missing, stale or wrong signature."""

    code = "invalid_signature"


class PayloadError(PipelineError):
    """An authenticated sender's body cannot be parsed at all."""

    code = "unparseable_body"


def decode_json(body: bytes, expected: type | tuple[type, ...], shape: str) -> Any:
    """The JSON body if it is an `expected` (dict or list); `PayloadError` naming `shape` if not."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not JSON: {exc}") from exc
    if not isinstance(payload, expected):
        raise PayloadError(f"body must be {shape}")
    return payload


@dataclass(frozen=True)
class Rejected:
    """One element that could not be normalized: it goes to `events.invalid` with this reason."""

    reason: str
    message: str
    element: Any = None


@dataclass
class Normalized:
    """The result of normalizing one raw record: events, rejected elements, ignored pings."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored: int = 0


class Provider(Protocol):
    """The contract of a provider module; `PROVIDERS` in `registry` lists the implementations."""

    name: str
    kept_headers: tuple[str, ...]

    def new_secret(self) -> str | None:
        """A signing secret for a new instance that gave none (None: the provider has none)."""

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        """Raise `SignatureError` unless the request is authentic."""

    def parse(self, body: bytes) -> Any:
        """The decoded payload; `PayloadError` when it cannot be decoded."""

    def has_events(self, payload: Any) -> bool:
        """False when nothing in the payload is worth writing (a Hootsuite ping)."""

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        """CloudEvents for every element of the payload, and what was rejected."""
