"""pipeline.events.catalog: one schema per normalized type, the first problem named by its path."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import ConfigError
from pipeline.events.catalog import Catalog
from pipeline.events.cloudevent import Lineage, build_event, parse_time
from pipeline.events.types import EVENT_TYPES
from pipeline.settings import REPO_ROOT

CATALOG = Catalog(REPO_ROOT / "topics")
LINEAGE = Lineage("oktopost", "inst1", "2025-11-20T12:30:01.000Z")


def _event(event_type: str = "post.sent", object_id: str = "42") -> dict[str, Any]:
    moment = parse_time("2025-11-20T12:30:00Z")
    assert moment is not None
    return build_event(
        LINEAGE,
        identity=("w1", object_id),
        event_type=event_type,
        object_id=object_id,
        provider_event="postSent",
        time=moment,
        # `kind`: the catch-all's required name of the platform's kind; ignored by the others
        data={"network": "LinkedIn", "kind": "page:ratings"},
        raw={"postId": object_id},
    )


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_an_event_built_for_any_type_matches_its_schema(event_type: str) -> None:
    assert CATALOG.violation(_event(event_type)) is None


def test_an_unknown_type_is_named() -> None:
    assert CATALOG.violation({**_event(), "type": "post.exploded"}) == (
        "no schema for type 'post.exploded'"
    )
    assert CATALOG.violation({}) == "no schema for type None"


def test_a_missing_required_field_is_reported_on_the_event() -> None:
    event = _event()
    del event["provider"]
    problem = CATALOG.violation(event)
    assert problem is not None
    assert problem.startswith("(event): ")
    assert "'provider' is a required property" in problem


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("subject", "leads/42", "subject"),  # a post's subject names posts/
        ("time", "yesterday", "time"),  # format: date-time is checked
        ("specversion", "0.3", "specversion"),
        ("source", "/somewhere/else", "source"),
    ],
)
def test_a_wrong_field_is_named_by_its_path(field: str, value: str, where: str) -> None:
    problem = CATALOG.violation({**_event(), field: value})
    assert problem is not None
    assert problem.split(": ", 1)[0] == where


def test_a_nested_problem_names_the_whole_path() -> None:
    event = _event()
    event["data"] = {**event["data"], "post_id": 42}
    problem = CATALOG.violation(event)
    assert problem is not None
    assert problem.startswith("data/post_id: ")


def test_the_listing_has_every_type_with_its_subject_and_schema() -> None:
    listing = CATALOG.listing()
    assert [entry["type"] for entry in listing] == list(EVENT_TYPES)
    post_sent = next(entry for entry in listing if entry["type"] == "post.sent")
    assert post_sent["subject"] == "posts/<id>"
    assert post_sent["schema"]["title"] == "post.sent"
    lead = next(entry for entry in listing if entry["type"] == "lead.created")
    assert lead["subject"] == "leads/<id>"


def _copy_topics(tmp_path: Path) -> Path:
    copied = tmp_path / "topics"
    shutil.copytree(REPO_ROOT / "topics" / "events", copied / "events")
    return copied


def test_a_missing_schema_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    topics = _copy_topics(tmp_path)
    (topics / "events" / "lead.created.json").unlink()
    with pytest.raises(ConfigError, match=r"lead\.created\.json is missing or unreadable"):
        Catalog(topics)


def test_an_unreadable_schema_file_is_a_config_error(tmp_path: Path) -> None:
    topics = _copy_topics(tmp_path)
    (topics / "events" / "post.sent.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"post\.sent\.json"):
        Catalog(topics)


def test_a_time_in_the_data_that_is_not_a_time_is_refused() -> None:
    """The compiled validator refuses it; the Python one, without rfc3339-validator (the
    pipeline's own dependencies), saw nothing wrong, and the event was accepted. With it (the dev
    extra brings it, through openapi-spec-validator) the Python one words the refusal."""
    event = _event()
    event["data"] = {**event["data"], "sent_at": "not a time"}
    assert re.fullmatch(
        r"data/sent_at: (\"not a time\" is not a \"date-time\"|'not a time' is not a 'date-time')",
        str(CATALOG.violation(event)),
    )
