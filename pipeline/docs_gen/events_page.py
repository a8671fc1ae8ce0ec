"""docs/reference/events.md: the event catalog, from the JSON Schemas in `topics/events/`."""

from __future__ import annotations

from typing import Any

from pipeline.docs_gen.markdown import code, header, table
from pipeline.docs_gen.schema_text import properties
from pipeline.events.catalog import Catalog
from pipeline.settings import REPO_ROOT

INTRO = (
    "Every event on `events.normalized` is a CloudEvent 1.0 (JSON structured mode) of one of "
    "these types, checked against its type's schema in `topics/events/<type>.json` before it is "
    "written; `GET /v1/event-types` serves the same schemas. The attributes every type shares "
    "(`id`, `source`, `subject`, `time`, the lineage extensions `provider`, `providerevent`, "
    "`instanceid`, `receivedat`) are explained in [normalized events](normalized-events.md); "
    "which provider event becomes which type is the mapping table in "
    "[providers](providers.md#mapping). Below: each type's subject and its `data` fields."
)


def render() -> str:
    catalog = Catalog(REPO_ROOT / "topics")
    sections = [header("Event catalog", "`topics/events/*.json`", INTRO)]
    sections.append(
        table(
            ("type", "subject"),
            [
                (f"[`{name}`](#{name.replace('.', '')})", code(_subject(schema)))
                for name, schema in catalog.schemas.items()
            ],
        )
    )
    for name, schema in catalog.schemas.items():
        data = schema["properties"]["data"]
        rows = [(code(n), k, r, d) for n, k, r, d in properties(data)]
        sections.append(
            f"## {name}\n\n{schema.get('description', '')}\n\n"
            + table(("data field", "type", "required", "meaning"), rows)
        )
    return "\n".join(sections)


def _subject(schema: dict[str, Any]) -> str:
    pattern = str(schema["properties"]["subject"].get("pattern", ""))
    return pattern.removeprefix("^").removesuffix("$").replace(".+", "<id>")
