"""`topics/` against `topics/released/`: what a change of the contract breaks, and for whom.

`topics/released/` holds the manifest, `schemas/` and `events/` as last released. Each declared
topic's value schema (with the schemas it `$ref`s) and each event type's schema is compared with
its released self. Consumers read tolerantly: they ignore fields and enum values they do not
know. Everything else they rely on, so these break them:

- a topic, or an event type, removed (or renamed);
- a record header the manifest declares removed, or its value changed (a new header is not);
- a required field removed or made optional;
- a new required field (the records already on the topic lack it);
- a type narrowed (`["string", "null"]` → `"string"`, `number` → `integer`) or widened (a field
  consumers read as a string may now be null); an enum losing a value; a const or format changed.

A deliberate break is a new version: a new file `<name>-v<N>.json` (the unversioned file is
version 1) that the manifest names instead, its records' `schema` const bumped where they carry
one (`delivery-task/1` → `delivery-task/2`), so consumers can tell the two apart. It is not compared
with the released one. Patterns and numeric bounds are not compared: review those by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pipeline.contract.topics import DeclaredTopic, Topic, declared_topics

RELEASED = "released"
MANIFEST = "manifest.toml"
EVENTS_TOPIC = Topic.EVENTS_NORMALIZED.value  # the topic whose event types topics/events/ catalogs
_VERSIONED = re.compile(r"^(?P<base>.+?)(?:-v(?P<version>[0-9]+))?\.json$")


@dataclass(frozen=True)
class Break:
    """One incompatible change: where, what, and the consumers of the topic it reaches."""

    topic: str
    where: str  # schema file relative to topics/, and a JSON pointer
    what: str
    consumers: tuple[str, ...]

    def __str__(self) -> str:
        readers = ", ".join(self.consumers) or "no declared reader"
        place = f"{self.where}: " if self.where else ""
        return f"{self.topic}: {place}{self.what} (breaks {readers})"


def check(topics_dir: Path) -> list[Break]:
    """Every break between `topics_dir` and `topics_dir/released`, topic by topic."""
    released_dir = topics_dir / RELEASED
    current, released = declared_topics(topics_dir), declared_topics(released_dir)
    breaks: list[Break] = []
    for name, old in released.items():
        new = current.get(name)
        if new is None:
            breaks.append(Break(name, "", "topic removed from the manifest", old.read_by))
            continue
        found = [*_header_changes(old, new), *_topic_changes(topics_dir, old, new)]
        breaks.extend(Break(name, where, what, new.read_by) for where, what in found)
    normalized = current.get(EVENTS_TOPIC)
    if normalized is not None and _same_version(released.get(EVENTS_TOPIC), normalized):
        for where, what in _event_changes(topics_dir):
            breaks.append(Break(EVENTS_TOPIC, where, what, normalized.read_by))
    return breaks


def _same_version(old: DeclaredTopic | None, new: DeclaredTopic) -> bool:
    return old is not None and old.value_schema == new.value_schema


def _header_changes(old: DeclaredTopic, new: DeclaredTopic) -> Iterator[tuple[str, str]]:
    """Headers are not versioned with the value schema: consumers pick a decoder by them (the
    CloudEvents SDKs tell structured from binary mode by `content-type`), so any change breaks."""
    now = dict(new.headers)
    for name, value in old.headers:
        if name not in now:
            yield MANIFEST, f"header {name!r} removed"
        elif now[name] != value:
            yield MANIFEST, f"header {name!r} changed from {value!r} to {now[name]!r}"


def _topic_changes(
    topics_dir: Path, old: DeclaredTopic, new: DeclaredTopic
) -> list[tuple[str, str]]:
    if old.value_schema is None:
        return []
    if new.value_schema is None:
        return [("", f"value schema {old.value_schema} dropped")]
    if old.value_schema == new.value_schema:
        return list(_Comparison(topics_dir).files(old.value_schema, new.value_schema))
    if not _is_successor(old.value_schema, new.value_schema):
        what = f"value schema {old.value_schema} replaced by {new.value_schema}, not a new version"
        return [("", f"{what} (name it {_successor(old.value_schema)})")]
    kept = _record_version(topics_dir / RELEASED / old.value_schema)
    if kept is not None and kept == _record_version(topics_dir / new.value_schema):
        return [(new.value_schema, f"new version keeps the records' schema {kept!r}")]
    return []


def _event_changes(topics_dir: Path) -> Iterator[tuple[str, str]]:
    comparison = _Comparison(topics_dir)
    for path in sorted((topics_dir / RELEASED / "events").glob("*.json")):
        where = f"events/{path.name}"
        if not (topics_dir / where).is_file():
            yield where, f"event type {path.stem!r} removed or renamed"
        else:
            yield from comparison.files(where, where)


def _version(file: str) -> tuple[str, int]:
    match = _VERSIONED.match(Path(file).name)
    if match is None:
        return file, 1
    return str(Path(file).parent / match["base"]), int(match["version"] or 1)


def _is_successor(old: str, new: str) -> bool:
    (old_base, old_version), (new_base, new_version) = _version(old), _version(new)
    return old_base == new_base and new_version == old_version + 1


def _successor(old: str) -> str:
    base, version = _version(old)
    return f"{base}-v{version + 1}.json"


def _record_version(path: Path) -> Any:
    """The `schema` const its records carry (`delivery-task/1`), if they carry one."""
    schema = orjson.loads(path.read_bytes())
    field = schema.get("properties", {}).get("schema", {}) if isinstance(schema, dict) else {}
    return field.get("const") if isinstance(field, dict) else None


class _Comparison:
    """One released schema against its current self, `$ref`s followed on both sides."""

    def __init__(self, topics_dir: Path) -> None:
        self.current = topics_dir
        self.released = topics_dir / RELEASED
        self.seen: set[tuple[str, str]] = set()

    def files(self, old_file: str, new_file: str) -> Iterator[tuple[str, str]]:
        if (old_file, new_file) in self.seen:
            return
        self.seen.add((old_file, new_file))
        old = orjson.loads((self.released / old_file).read_bytes())
        new = orjson.loads((self.current / new_file).read_bytes())
        yield from self.schemas(old, new, old_file, new_file, "")

    def schemas(
        self, old: Any, new: Any, old_file: str, new_file: str, pointer: str
    ) -> Iterator[tuple[str, str]]:
        if not isinstance(old, dict) or not isinstance(new, dict):
            return
        if "$ref" in old or "$ref" in new:
            yield from self.referenced(old, new, old_file, new_file, pointer)
            return
        where = f"{new_file}#{pointer}" if pointer else new_file
        yield from ((where, what) for what in _local_changes(old, new))
        for key in ("items", "additionalProperties", "not"):
            yield from self.schemas(
                old.get(key), new.get(key), old_file, new_file, f"{pointer}/{key}"
            )
        old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
        for name in old_fields.keys() & new_fields.keys():
            yield from self.schemas(
                old_fields[name],
                new_fields[name],
                old_file,
                new_file,
                f"{pointer}/properties/{name}",
            )
        for key in ("anyOf", "oneOf", "allOf"):
            for index, (was, now) in enumerate(
                zip(old.get(key, []), new.get(key, []), strict=False)
            ):
                yield from self.schemas(was, now, old_file, new_file, f"{pointer}/{key}/{index}")

    def referenced(
        self, old: dict[str, Any], new: dict[str, Any], old_file: str, new_file: str, pointer: str
    ) -> Iterator[tuple[str, str]]:
        """Both sides `$ref` a file, or one does (a part moved into a file of its own, or back)."""
        if "$ref" in old and "$ref" in new:
            yield from self.files(_target(old_file, old["$ref"]), _target(new_file, new["$ref"]))
        elif "$ref" in old:
            target = _target(old_file, old["$ref"])
            was = orjson.loads((self.released / target).read_bytes())
            yield from self.schemas(was, new, target, new_file, pointer)
        else:
            target = _target(new_file, new["$ref"])
            now = orjson.loads((self.current / target).read_bytes())
            yield from self.schemas(old, now, old_file, target, "")


def _target(file: str, ref: str) -> str:
    """The file a `$ref` names, relative to topics/ (refs name sibling files)."""
    return str(Path(file).parent / ref.partition("#")[0]) if ref.partition("#")[0] else file


def _local_changes(old: dict[str, Any], new: dict[str, Any]) -> Iterator[str]:
    yield from _type_changes(old.get("type"), new.get("type"))
    yield from _value_changes(old, new)
    yield from _required_changes(old, new)
    for key in ("anyOf", "oneOf"):
        if len(new.get(key, [])) < len(old.get(key, [])):
            yield f"{key} lost {len(old[key]) - len(new[key])} of its {len(old[key])} branches"
    if old.get("format") != new.get("format") and new.get("format") is not None:
        yield f"format changed from {old.get('format')} to {new['format']}"


def _types(declared: Any) -> set[str] | None:
    if declared is None:
        return None
    return {declared} if isinstance(declared, str) else set(declared)


def _covers(types: set[str], kind: str) -> bool:
    return kind in types or (kind == "integer" and "number" in types)


def _type_changes(old_declared: Any, new_declared: Any) -> Iterator[str]:
    old, new = _types(old_declared), _types(new_declared)
    if old == new or new is None:
        if new is None and old is not None:
            yield f"type widened from {_shown(old)} to any"
        return
    if old is None:
        yield f"type narrowed from any to {_shown(new)}"
        return
    if any(not _covers(new, kind) for kind in old):
        yield f"type narrowed from {_shown(old)} to {_shown(new)}"
    elif any(not _covers(old, kind) for kind in new):
        yield f"type widened from {_shown(old)} to {_shown(new)}"


def _shown(types: set[str]) -> str:
    return next(iter(types)) if len(types) == 1 else "[" + ", ".join(sorted(types)) + "]"


def _allowed(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    return list(schema["enum"]) if "enum" in schema else None


def _value_changes(old: dict[str, Any], new: dict[str, Any]) -> Iterator[str]:
    was, now = _allowed(old), _allowed(new)
    if now is None:
        return
    if was is None:
        yield f"now restricted to {_listed(now)}"
    elif "const" in old and "const" in new and old["const"] != new["const"]:
        yield f"const changed from {old['const']!r} to {new['const']!r}"
    elif lost := [value for value in was if value not in now]:
        yield f"enum lost {_listed(lost)}"


def _listed(values: list[Any]) -> str:
    return ", ".join(repr(value) for value in values)


def _required_changes(old: dict[str, Any], new: dict[str, Any]) -> Iterator[str]:
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    fields = new.get("properties", {})
    for name in sorted(old_required - new_required):
        yield f"required field {name!r} " + ("made optional" if name in fields else "removed")
    for name in sorted(new_required - old_required):
        yield f"new required field {name!r} (records already written lack it)"
