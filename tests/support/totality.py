"""What "events or rejections, never an exception" means, checked on a result.

Every event must be one the normalize agent can write (orjson serialises it) with RFC 3339 times;
every rejection carries a reason code listed in docs/reference/normalized-events.md; every dead
letter matches `topics/schemas/invalid-record.json`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator

from pipeline.events.catalog import Catalog
from pipeline.events.invalid import InvalidRecord, encode_invalid, invalid_record
from pipeline.providers.base import Normalized
from pipeline.providers.normalize import Outcome
from pipeline.settings import REPO_ROOT

CATALOG = Catalog(REPO_ROOT / "topics")
# A few hundred cases per property keeps the whole set of property tests well under 30 s.
PROPERTY = settings(
    max_examples=250,
    deadline=None,  # a shared 2-core machine: timing is measured by benchmarks, not here
    database=None,  # no .hypothesis/ directory in the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RFC3339_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def _schema(name: str) -> Draft202012Validator:
    schema = orjson.loads((REPO_ROOT / "topics" / "schemas" / name).read_bytes())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


CLOUDEVENT = _schema("cloudevent.json")
INVALID_RECORD = _schema("invalid-record.json")


def documented_reasons() -> set[str]:
    """The reason codes of `events.invalid` as the docs' table of reasons lists them."""
    page = (REPO_ROOT / "docs" / "reference" / "normalized-events.md").read_text()
    start = page.index("## Dead letters: `events.invalid`")
    end = page.find("\n## ", start + 1)  # the next section, if any
    section = page[start : end if end != -1 else None]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))


REASONS = documented_reasons()
INPUT_REASONS = REASONS - {"internal_error"}  # the agents' guard's, never the normalizers'


def check_time(value: Any) -> None:
    assert isinstance(value, str)
    assert RFC3339_MS.fullmatch(value), value
    datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_event(event: dict[str, Any]) -> bool:
    """Checks what the agent relies on; True when the event also matches its type's schema."""
    orjson.dumps(event)
    check_time(event["time"])
    check_time(event["receivedat"])
    return CATALOG.violation(event) is None


def check_normalized(result: Normalized) -> list[dict[str, Any]]:
    """A provider's result is writable; returns the events that pass their schema."""
    assert isinstance(result, Normalized)
    for rejected in result.rejected:
        assert rejected.reason in INPUT_REASONS, rejected.reason
        assert isinstance(rejected.message, str)
        orjson.dumps(rejected.element)
        check_dead_letter(
            invalid_record(
                stage="normalize",
                reason=rejected.reason,
                message=rejected.message,
                provider="p",
                instance_id="i",
                record=None,
                element=rejected.element,
            )
        )
    return [event for event in result.events if check_event(event)]


def check_dead_letter(letter: InvalidRecord) -> None:
    """The letter encodes (every part of it is JSON) and what is written matches its schema."""
    assert letter.reason in INPUT_REASONS, letter.reason
    problem = next(iter(INVALID_RECORD.iter_errors(orjson.loads(encode_invalid(letter)))), None)
    assert problem is None, problem


def check_outcome(outcome: Outcome) -> None:
    """A record's outcome is what the agent writes: valid events and valid dead letters."""
    assert isinstance(outcome, Outcome)
    for event in outcome.events:
        assert check_event(event), CATALOG.violation(event)
        assert next(iter(CLOUDEVENT.iter_errors(event)), None) is None
    for record in outcome.invalid:
        check_dead_letter(record)
