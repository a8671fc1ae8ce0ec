"""pipeline.contract.codec: one JSON codec per record type, checked on decode."""

from __future__ import annotations

import msgspec
import pytest

from pipeline.contract.codec import Codec


class Point(msgspec.Struct, frozen=True):
    x: int
    y: int = 0


def test_a_record_comes_back_as_it_went() -> None:
    points = Codec(Point)
    assert points.decode(points.encode(Point(3, 4))) == Point(3, 4)
    assert points.encode(Point(1)) == b'{"x":1,"y":0}'


@pytest.mark.parametrize(
    ("raw", "error"),
    [(b"not json", msgspec.DecodeError), (b'{"x": "three"}', msgspec.ValidationError)],
)
def test_what_is_not_the_type_is_refused(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        Codec(Point).decode(raw)
