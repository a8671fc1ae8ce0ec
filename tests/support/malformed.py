"""Hypothesis strategies for provider input: the documented shapes, then the same shapes broken.

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

from pipeline.providers.oktopost import EVENT_MAP
from tests.support.payloads import OKTOPOST_DATA


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

DROP = object()  # a field removed from the document


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


ids = st.one_of(
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=2**63 - 1),
)
unix_seconds = st.integers(min_value=0, max_value=4_102_444_800)  # up to 2100
oktopost_times = unix_seconds.map(lambda s: _utc(s).strftime("%Y-%m-%d %H:%M:%S"))
iso_times = unix_seconds.map(lambda s: _utc(s).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _utc(seconds: int) -> Any:
    from datetime import UTC, datetime  # noqa: PLC0415 - only the time strategies need it

    return datetime.fromtimestamp(seconds, UTC)


@st.composite
def oktopost_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A documented Oktopost webhook body with random ids, times and event."""
    event = draw(st.sampled_from(sorted(OKTOPOST_DATA)))
    data = dict(OKTOPOST_DATA[event])
    for name in data:
        if name.endswith("Id"):
            data[name] = draw(ids)
        elif name.endswith("At"):
            data[name] = draw(oktopost_times)
    return {
        "event": event,
        "timestamp": draw(unix_seconds),
        "webhookId": "0WA" + draw(st.text("0123456789abcdef", min_size=1, max_size=8)),
        "data": data,
    }


@st.composite
def broken_oktopost_documents(draw: st.DrawFn) -> Any:
    """A documented Oktopost body with its fields, or its data's id and time fields, broken."""
    document = draw(oktopost_documents())
    _, id_fields, time_field = EVENT_MAP[document["event"]]
    if draw(st.booleans()):
        data = {**document["data"], time_field or "createdAt": draw(broken_values)}
        document["data"] = draw(broken(data, (*id_fields, time_field or "createdAt")))
    return draw(broken(document, ("event", "timestamp", "webhookId", "data")))


HOOTSUITE_SUBJECTS = {
    "com.hootsuite.messages.event.v1": "message",
    "com.hootsuite.comments.event.v1": "comment",
    "com.hootsuite.apps.event.v1": "organization",
}
HOOTSUITE_STATES = {
    "com.hootsuite.messages.event.v1": [
        "SCHEDULED",
        "PENDING_APPROVAL",
        "APPROVED",
        "SUBMITTED",
        "SENT",
        "SEND_FAILED_PERMANENTLY",
        "DELETED",
        "REJECTED",
    ],
    "com.hootsuite.comments.event.v1": [
        "PENDING_APPROVAL",
        "EXPIRED_APPROVAL",
        "COMPLETED",
        "FAILED",
        "DELETED",
        "REJECTED",
    ],
    "com.hootsuite.apps.event.v1": ["INSTALLED", "UNINSTALLED"],
}
seq_nos = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1).map(str),
    st.integers(min_value=0, max_value=2**63 - 1),
)


@st.composite
def hootsuite_elements(draw: st.DrawFn) -> dict[str, Any]:
    """One documented `{seq_no, type, data}` element of a Hootsuite batch (never a ping)."""
    kind = draw(st.sampled_from(sorted(HOOTSUITE_STATES)))
    data: dict[str, Any] = {
        "state": draw(st.sampled_from(HOOTSUITE_STATES[kind])),
        "organization": {"id": str(draw(ids))},
        HOOTSUITE_SUBJECTS[kind]: {"id": draw(ids)},
        "timestamp": draw(iso_times),
    }
    return {"seq_no": draw(seq_nos), "type": kind, "data": data}


def hootsuite_ping(seq_no: str) -> dict[str, Any]:
    return {"seq_no": seq_no, "type": "com.hootsuite.ping.event.v1", "data": {}}


@st.composite
def broken_hootsuite_elements(draw: st.DrawFn) -> Any:
    """A documented element with its fields, or its data's fields, broken."""
    element = draw(hootsuite_elements())
    if draw(st.booleans()):
        data = element["data"]
        subject = HOOTSUITE_SUBJECTS[element["type"]]
        element["data"] = draw(broken(data, ("state", subject, "timestamp")))
        if draw(st.booleans()):
            element["data"] = draw(broken({**data, subject: {"id": draw(broken_values)}}, ()))
    return draw(broken(element, ("seq_no", "type", "data")))


@st.composite
def mixed_hootsuite_batches(draw: st.DrawFn) -> tuple[list[Any], list[Any]]:
    """(a batch, its documented elements): good elements between broken ones and pings."""
    good = draw(st.lists(hootsuite_elements(), max_size=5, unique_by=lambda e: str(e["seq_no"])))
    bad = draw(st.lists(broken_hootsuite_elements(), max_size=3))
    pings = [hootsuite_ping(str(n)) for n in range(draw(st.integers(0, 2)))]
    batch = draw(st.permutations(good + bad + pings))
    return batch, good


STANDARD_TYPES = (
    "post.created",
    "post.sent",
    "post.failed",
    "conversation.assigned",
    "lead.created",
    "conversion.created",
    "campaign.created",
    "advocacy.story_created",
    "stream.message",
    "integration.installed",
)


@st.composite
def standard_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A Standard Webhooks body `{type, timestamp, data}` with a normalized type."""
    return {
        "type": draw(st.sampled_from(STANDARD_TYPES)),
        "timestamp": draw(iso_times),
        "data": {"id": draw(ids), "note": draw(st.text(max_size=20))},
    }


POLLED_STATES = (
    "SCHEDULED",
    "PENDING_APPROVAL",
    "SUBMITTED",
    "SENT",
    "SEND_FAILED_PERMANENTLY",
    "REJECTED",
)


@st.composite
def broken_standard_documents(draw: st.DrawFn) -> Any:
    """A Standard Webhooks body with its fields, or its data's ids, broken."""
    document = draw(standard_documents())
    if draw(st.booleans()):
        data = {**document["data"], "post_id": draw(broken_values)}
        document["data"] = draw(broken(data, ("id", "post_id")))
    return draw(broken(document, ("type", "timestamp", "data")))


@st.composite
def message_snapshots(draw: st.DrawFn) -> dict[str, Any]:
    """A `polls.raw` snapshot of a Hootsuite message, as the poller writes it."""
    message_id = str(draw(ids))
    deleted = draw(st.integers(0, 4)) == 0
    item = None
    if not deleted:
        item = {
            "id": message_id,
            "state": draw(st.sampled_from(POLLED_STATES)),
            "text": draw(st.text(max_size=40)),
            "socialProfile": {"id": str(draw(ids))},
            "scheduledSendTime": draw(iso_times),
        }
    return {
        "schema": "poll-snapshot/1",
        "provider": "hootsuite",
        "instance_id": "hs1",
        "polled_at": "2025-11-20T12:00:00.000Z",
        "resource": "message",
        "item_id": message_id,
        "item": item,
        "deleted": deleted,
        "options": {"include_raw": draw(st.booleans())},
    }


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
