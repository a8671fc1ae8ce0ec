"""Hypothesis strategies that break provider input: values, fields, bytes (shapes: `documents`).

A generated document is plain Python (dicts, lists, scalars) plus two markers that JSON text can
express but Python values cannot: `Raw` (a verbatim fragment: `1e400`, `NaN`, a 1,000-deep array)
and `Pairs` (an object with duplicate keys). `encode` writes the JSON text with the stdlib encoder,
which also keeps integers wider than 64 bits that orjson would refuse to write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Raw:
    """A JSON text fragment written as it is."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A JSON object written with these (key, value) pairs in order, repeats included."""

    items: tuple[tuple[str, Any], ...]


def encode(value: Any) -> bytes:
    return _text(value).encode("utf-8", "surrogatepass")


def _text(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{_text(v)}" for k, v in value.items) + "}"
    if isinstance(value, dict):
        return _text(Pairs(tuple(value.items())))
    if isinstance(value, list):
        return "[" + ",".join(_text(item) for item in value) + "]"
    return json.dumps(value)


def deep(depth: int, leaf: str = "1", *, objects: bool = False) -> Raw:
    """`depth` nested arrays (or `{"a": …}` objects) around `leaf`."""
    if objects:
        return Raw('{"a":' * depth + leaf + "}" * depth)
    return Raw("[" * depth + leaf + "]" * depth)


# Numbers past every range a parser might assume: doubles at their limits, integers wider than 64
# bits (orjson reads them as floats), values that overflow a double (orjson refuses the body).
HUGE_NUMBERS = st.sampled_from(
    [
        1e308,
        -1e308,
        1.7976931348623157e308,
        5e-324,
        10**40,
        -(10**40),
        2**63,
        2**64 - 1,
        2**64,
        -(2**63) - 1,
        253402300800,
        -62135596801,
        253402300800000,
        10**11 + 1,
        -1,
        0,
        -0.0,
        Raw("1e400"),
        Raw("-1e400"),
        Raw("1" + "0" * 400),
    ]
)
# Strings that look like numbers or times, or that break naive handling of text.
NASTY_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e308",
        "-1",
        "²",
        "١٢٣",
        "9" * 5000,
        "99999999999999999999",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0005-01-01T00:00:00Z",
        "2025-13-45T99:99:99Z",
        "2025-11-20 12:30:00",
        "2025-11-20T12:30:00ZZ",
        "\x00",
        "a\nb",
        "\u2028",
        "😀",
        "null",
        "{}",
        "x" * 20_000,
    ]
)
NON_FINITE = st.sampled_from([Raw("NaN"), Raw("Infinity"), Raw("-Infinity")])
DEEP = st.builds(
    deep, st.sampled_from([63, 64, 65, 100, 254, 256, 300, 1000, 1024]), objects=st.booleans()
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    HUGE_NUMBERS,
    NASTY_STRINGS,
)
# Any JSON value orjson reads back (bar the markers' refusals): small recursive structures.
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
# Values that replace a field to confuse its type, nest too deep or grow too big.
broken_values = st.one_of(
    json_values,
    NON_FINITE,
    DEEP,
    # big arrays and objects, written once (drawing or encoding 1,000 items each time is slow)
    st.sampled_from(
        [Raw(json.dumps(list(range(-n, n)))) for n in (500, 5000)]
        + [Raw(json.dumps({f"k{i}": [i, str(i)] for i in range(n)})) for n in (1000, 3000)]
    ),
)


@st.composite
def broken(draw: st.DrawFn, document: dict[str, Any], fields: tuple[str, ...]) -> Any:
    """`document` with some of `fields` dropped, retyped or duplicated; sometimes not an object."""
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)
    pairs: list[tuple[str, Any]] = []
    for name, value in document.items():
        change = draw(st.sampled_from(["keep", "keep", "drop", "replace", "repeat"]))
        if name not in fields or change == "keep":
            pairs.append((name, value))
        elif change == "replace":
            pairs.append((name, draw(broken_values)))
        elif change == "repeat":  # the second one wins in orjson: sometimes the good one
            pairs += draw(st.permutations([(name, value), (name, draw(broken_values))]))
    if draw(st.booleans()):
        pairs.append((draw(st.text(max_size=10)), draw(json_values)))
    return Pairs(tuple(pairs))


def corrupt_bytes(body: bytes) -> st.SearchStrategy[bytes]:
    """`body` truncated, with invalid UTF-8 spliced in, or replaced by random bytes."""
    cut = st.integers(0, max(len(body) - 1, 0)).map(lambda n: body[:n])
    invalid = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])
    spliced = st.tuples(st.integers(0, len(body)), invalid).map(
        lambda t: body[: t[0]] + t[1] + body[t[0] :]
    )
    return st.one_of(cut, spliced, st.binary(max_size=200))


# Header values as an envelope carries them (valid Unicode), and as aiohttp hands them to verify:
# there undecodable bytes arrive as lone surrogates.
header_text = st.one_of(
    NASTY_STRINGS,
    st.text(max_size=70),
    st.text(min_size=40, max_size=40),
    st.text(min_size=64, max_size=64).map(lambda text: "sha256=" + text),
)
header_values = st.one_of(
    header_text, st.binary(max_size=70).map(lambda raw: raw.decode("utf-8", "surrogateescape"))
)
