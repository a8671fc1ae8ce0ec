"""The event catalog: one JSON Schema per normalized type, read from `topics/events/`.

The normalize agent checks every event it writes against its type's schema; the admin API serves
the catalog at `GET /v1/event-types`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator

from pipeline.errors import ConfigError
from pipeline.events.types import EVENT_TYPES


class Catalog:
    def __init__(self, topics_dir: Path) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        for event_type in EVENT_TYPES:
            path = topics_dir / "events" / f"{event_type}.json"
            try:
                self.schemas[event_type] = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                raise ConfigError(f"event schema {path} is missing or unreadable: {exc}") from exc
        self._validators = {
            event_type: Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
            for event_type, schema in self.schemas.items()
        }
        # Compiled (Rust) validators for the common case, a valid event: ~30x cheaper. They check
        # formats too, so an event they accept the validator above accepts as well.
        self._fast = {
            event_type: jsonschema_rs.validator_for(schema, validate_formats=True)
            for event_type, schema in self.schemas.items()
        }

    def violation(self, event: Mapping[str, Any]) -> str | None:
        """None when `event` matches its type's schema, else the first problem found."""
        event_type = str(event.get("type"))
        fast = self._fast.get(event_type)
        if fast is None:
            return f"no schema for type {event.get('type')!r}"
        if fast.is_valid(event):
            return None
        problem = next(iter(self._validators[event_type].iter_errors(event)), None)
        if problem is not None:
            return _at(problem.absolute_path, problem.message)
        # Without the optional rfc3339-validator the validator above checks no `date-time`; the
        # compiled one always does, and its refusal stands: its own first error, then.
        found = next(iter(fast.iter_errors(event)))
        return _at(found.instance_path, found.message)

    def listing(self) -> list[dict[str, Any]]:
        return [
            {"type": event_type, "subject": f"{EVENT_TYPES[event_type]}/<id>", "schema": schema}
            for event_type, schema in self.schemas.items()
        ]


def _at(path: Iterable[object], message: str) -> str:
    return f"{'/'.join(str(part) for part in path) or '(event)'}: {message}"
