"""The JSON codec of every typed record on the topics: `Codec(Type)`, one per record type.

`decode` reads bytes into `Type` and checks them against it in one pass (msgspec); anything that
is not JSON, or JSON of another shape, raises `msgspec.DecodeError` (`msgspec.ValidationError` for
the shape), which each reader turns into a dead letter or an unreadable record, never a crash.
`encode` writes any of them with one shared encoder. The modules that own a record type name
their pair after it (`decode_task`, `encode_instance`, …) from their `Codec`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")
_ENCODER = msgspec.json.Encoder()


class Codec(Generic[T]):
    """Decodes `kind` from JSON and encodes it back; `decode` is msgspec's own bound method, so
    a record costs no call beyond msgspec's."""

    __slots__ = ("decode", "kind")

    def __init__(self, kind: type[T]) -> None:
        self.kind = kind
        self.decode: Callable[[bytes], T] = msgspec.json.Decoder(kind).decode

    @staticmethod
    def encode(record: Any) -> bytes:
        return _ENCODER.encode(record)
