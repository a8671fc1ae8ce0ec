"""What every provider module offers the ingress (verify, parse) and the normalize agent."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from pipeline.errors import PipelineError
from pipeline.events.cloudevent import CloudEvent, Lineage


class SignatureError(PipelineError):
    """The request is not from the instance's provider: missing, stale or wrong signature."""

    code = "invalid_signature"


class PayloadError(PipelineError):
    """An authenticated sender's body cannot be parsed at all."""

    code = "unparseable_body"


class HandshakeRefusedError(PipelineError):
    """A platform's verification request does not prove it knows the instance (answered 403)."""

    code = "handshake_refused"


class HandshakeParameterError(PipelineError):
    """A verification request lacks the parameter the platform always sends (answered 400)."""

    code = "missing_parameter"


# Deepest nesting of a payload or batch element worth normalizing. Its event wraps it two levels
# deeper and a dead letter one; orjson writes at most 255 and Python recurses about 1,000 deep.
MAX_DEPTH = 64


def decode_json(body: bytes, expected: type | tuple[type, ...], shape: str) -> Any:
    """The JSON body if it is an `expected` (dict or list); `PayloadError` naming `shape` if not."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not JSON: {exc}") from exc
    if not isinstance(payload, expected):
        raise PayloadError(f"body must be {shape}")
    return payload


def nests_deeper(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest more than `limit` deep in `value` (iterative: any depth)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def is_missing(value: Any) -> bool:
    return value is None or value == ""


def identifier(value: Any) -> str | None:
    """An id as a subject or dedup key holds it: a string, or an integer (not a boolean)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def content_digest(value: Any) -> str:
    """SHA-256 of `value` as compact JSON with sorted keys: the same for equal content however
    it was serialised (an identity for providers that send no id of the occurrence)."""
    try:
        canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: Python's own encoder takes it
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def brief(value: Any, limit: int = 80) -> str:
    """`repr(value)` for a message, cut at `limit` characters (a sender's value can be huge)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class Rejected:
    """One element that could not be normalized: it goes to `events.invalid` with this reason."""

    reason: str
    message: str
    element: Any = None


def unusable(payload: Any, expected: type, shape: str) -> Rejected | None:
    """Why `normalize` cannot take `payload` (not `expected`, or nested too deep), else None."""
    if not isinstance(payload, expected):
        return Rejected("unparseable_body", f"body must be {shape}")
    if nests_deeper(payload):
        return Rejected("nested_too_deep", f"body nests deeper than {MAX_DEPTH} levels")
    return None


@dataclass
class Normalized:
    """The result of normalizing one raw record: events, rejected elements, ignored pings."""

    events: list[CloudEvent] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    ignored: int = 0


@dataclass(frozen=True)
class InstanceKeys:
    """What a platform's verification request is checked against, taken from the instance."""

    instance_id: str
    signing_secret: str | None
    verify_token: str | None = None
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeaseChange:
    """A WebSub hub's verified (un)subscription: the ingress records it before answering."""

    channel_id: str
    topic: str
    lease_seconds: int | None  # None: an unsubscription (the lease ends now)


@dataclass(frozen=True)
class HandshakeAnswer:
    """The 200 answer to a verification request: its body, and what to record first."""

    body: bytes
    content_type: str = "text/plain"
    lease: LeaseChange | None = None


class Handshaking(Protocol):
    """A provider whose platform verifies the webhook URL with a GET (`HANDSHAKES` in registry)."""

    name: str

    def handshake(self, keys: InstanceKeys, query: Mapping[str, str]) -> HandshakeAnswer:
        """The answer, or `HandshakeRefusedError` / `HandshakeParameterError`; never another."""


class Provider(Protocol):
    """The contract of a provider module; `PROVIDERS` in `registry` lists the implementations."""

    name: str
    kept_headers: tuple[str, ...]
    # True: an accepted webhook is answered with an empty 2xx body (the provider asks for it).
    empty_acknowledgement: bool

    def new_secret(self) -> str | None:
        """A signing secret for a new instance that gave none (None: the provider has none)."""

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        """Raise `SignatureError` unless the request is authentic."""

    def parse(self, body: bytes) -> Any:
        """The decoded payload; `PayloadError` when it cannot be decoded (any bytes: no other)."""

    def has_events(self, payload: Any) -> bool:
        """False when nothing in the payload is worth writing (a Hootsuite ping)."""

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        """CloudEvents for every element of the payload, and what was rejected.

        Total: any JSON value maps to events and rejections, never to an exception.
        """
