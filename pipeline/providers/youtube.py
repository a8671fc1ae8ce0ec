"""YouTube (WebSub): Atom XML pushed by the hub for each channel the instance subscribed.

Verification: the hub's `GET ?hub.mode=subscribe&hub.topic=T&hub.challenge=C&hub.lease_seconds=N`
is answered `C` only for the feed of one of the instance's `channels` (an `unsubscribe` only for a
channel it no longer lists); the lease granted is recorded on `websub.leases` first, and the
WebSub manager renews it before it ends. Signature: `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the
raw body with hub.secret>`. The XML is parsed by defusedxml (no entity expansion, no external
entities: a pushed XML bomb is refused as unparseable). The same video is pushed again on every
update: it is identified by video id + `updated`; a deletion by video id + `when`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeTree
from defusedxml import DefusedXmlException

from pipeline.events.cloudevent import Lineage, parse_time, rfc3339
from pipeline.providers.base import (
    HandshakeAnswer,
    HandshakeParameterError,
    HandshakeRefusedError,
    InstanceKeys,
    LeaseChange,
    Normalized,
    PayloadError,
    Rejected,
)
from pipeline.providers.signatures import hmac_hex, require_signature
from pipeline.providers.social import Occurrence, event, member, object_id, text

SIGNATURE_HEADER = "x-hub-signature"
SHAPE = "an Atom feed of <entry> and <at:deleted-entry> elements"
FEED_URL = "https://www.youtube.com/xml/feeds/videos.xml?channel_id={}"
DEFAULT_LEASE_SECONDS = 5 * 24 * 3600
# A video pushed with `updated` this close to `published` is new; later pushes are edits.
NEW_WITHIN = timedelta(minutes=15)
ENTRY_FIELDS = ("id", "videoId", "channelId", "title", "published", "updated")


def feed_topic(channel_id: str) -> str:
    return FEED_URL.format(channel_id)


def channel_of(topic: str) -> str | None:
    """The channel id of a YouTube feed URL (`hub.topic`), or None for any other URL."""
    parts = urlsplit(topic)
    if parts.hostname not in ("www.youtube.com", "youtube.com"):
        return None
    if parts.path != "/xml/feeds/videos.xml":
        return None
    found = parse_qs(parts.query).get("channel_id", [])
    return found[0] if len(found) == 1 else None


class YouTube:
    name = "youtube"
    kept_headers: tuple[str, ...] = ()
    empty_acknowledgement = False

    def new_secret(self) -> str | None:
        return secrets.token_hex(32)  # hub.secret is ours to choose: the manager hands it over

    def verify(
        self, secret: str | None, headers: Mapping[str, str], body: bytes, now: float
    ) -> None:
        expected = "sha1=" + hmac_hex(secret or "", body, hashlib.sha1)
        given = headers.get(SIGNATURE_HEADER, "").strip().lower()
        require_signature(secret, given, expected, "X-Hub-Signature")

    def handshake(self, keys: InstanceKeys, query: Mapping[str, str]) -> HandshakeAnswer:
        mode, topic = query.get("hub.mode"), query.get("hub.topic", "")
        if mode == "denied":  # the hub refused a subscription: nothing to confirm
            return HandshakeAnswer(b"")
        challenge = query.get("hub.challenge")
        if not challenge:
            raise HandshakeParameterError("hub.challenge is missing")
        channel = channel_of(topic)
        answer = challenge.encode("utf-8", "replace")
        if mode == "subscribe" and channel in keys.channels:
            lease = query.get("hub.lease_seconds", "")
            seconds = int(lease) if lease.isascii() and lease.isdigit() else 0
            granted = seconds if 0 < seconds < 10**9 else DEFAULT_LEASE_SECONDS
            return HandshakeAnswer(answer, lease=LeaseChange(str(channel), topic, granted))
        if mode == "unsubscribe" and channel is not None and channel not in keys.channels:
            return HandshakeAnswer(answer, lease=LeaseChange(channel, topic, None))
        raise HandshakeRefusedError(f"hub.topic {topic[:200]!r} is not one this instance asked for")

    def parse(self, body: bytes) -> Any:
        """The feed's entries and deletions as JSON-like dicts (the worker re-parses the body)."""
        try:
            root = SafeTree.fromstring(body)
        except (ParseError, DefusedXmlException, ValueError) as exc:
            raise PayloadError(f"body is not safe, well-formed XML: {exc}") from exc
        if _local(root.tag) != "feed":
            raise PayloadError(f"body must be {SHAPE}")
        items: list[dict[str, Any]] = []
        for child in root:
            if _local(child.tag) == "entry":
                items.append({"entry": _entry(child)})
            elif _local(child.tag) == "deleted-entry":
                items.append({"deleted": _deleted(child)})
        return items

    def has_events(self, payload: Any) -> bool:
        return True

    def normalize(self, payload: Any, headers: Mapping[str, str], lineage: Lineage) -> Normalized:
        result = Normalized()
        if not isinstance(payload, list):
            result.rejected.append(Rejected("unparseable_body", f"body must be {SHAPE}"))
            return result
        for item in payload:
            outcome = _item(item, lineage)
            if isinstance(outcome, Rejected):
                result.rejected.append(outcome)
            else:
                result.events.append(event(lineage, outcome))
        if not (result.events or result.rejected):
            result.rejected.append(Rejected("empty_batch", "the feed holds no entry"))
        return result


def _local(tag: Any) -> str:
    """An element's name without its namespace (`{…Atom}entry` → `entry`; `yt:videoId` too)."""
    return str(tag).rpartition("}")[2].rpartition(":")[2]


def _entry(element: Element) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for child in element:
        name = _local(child.tag)
        if name in ENTRY_FIELDS:
            found[name] = (child.text or "").strip()
        elif name == "link" and child.get("rel", "alternate") == "alternate":
            found["link"] = child.get("href")
        elif name == "author":
            found["author"] = {_local(part.tag): (part.text or "").strip() for part in child}
    return found


def _deleted(element: Element) -> dict[str, Any]:
    by = next((child for child in element if _local(child.tag) == "by"), None)
    author = {} if by is None else {_local(part.tag): (part.text or "").strip() for part in by}
    return {"ref": element.get("ref"), "when": element.get("when"), "by": author}


def _item(item: Any, lineage: Lineage) -> Occurrence | Rejected:
    entry, deleted = member(item, "entry"), member(item, "deleted")
    if isinstance(entry, dict):
        return _video(entry, lineage)
    if isinstance(deleted, dict):
        return _deletion(deleted, lineage)
    return Rejected("malformed_element", "item is neither an entry nor a deleted entry", item)


def _video(entry: dict[str, Any], lineage: Lineage) -> Occurrence | Rejected:
    atom_id = entry.get("id")
    fallback = atom_id.removeprefix("yt:video:") if isinstance(atom_id, str) else None
    found = object_id(entry.get("videoId") or fallback, "entry yt:videoId", entry)
    if isinstance(found, Rejected):
        return found
    published, updated = parse_time(entry.get("published")), parse_time(entry.get("updated"))
    edited = published is not None and updated is not None and updated - published > NEW_WITHIN
    channel = text(entry.get("channelId"))
    fields = {
        "platform": "youtube",
        "account_id": channel,
        "channel_id": channel,
        "title": text(entry.get("title")),
        "url": text(entry.get("link")),
        "author_name": text(member(entry, "author", "name")),
        "published_at": rfc3339(published) if published else None,
        "updated_at": rfc3339(updated) if updated else None,
    }
    return Occurrence(
        event_type="video.updated" if edited else "video.published",
        object_id=found,
        provider_event="entry",
        identity=("video", found, str(entry.get("updated"))),
        time=updated or published or lineage.received_time,
        fields=fields,
        raw=entry,
    )


def _deletion(deleted: dict[str, Any], lineage: Lineage) -> Occurrence | Rejected:
    ref = deleted.get("ref")
    found = object_id(
        ref.removeprefix("yt:video:") if isinstance(ref, str) else None, "ref", deleted
    )
    if isinstance(found, Rejected):
        return found
    uri = text(member(deleted, "by", "uri")) or ""
    channel = uri.rpartition("/channel/")[2] or None
    when = parse_time(deleted.get("when"))
    fields = {
        "platform": "youtube",
        "account_id": channel,
        "channel_id": channel,
        "deleted_at": rfc3339(when) if when else None,
    }
    return Occurrence(
        event_type="video.deleted",
        object_id=found,
        provider_event="deleted-entry",
        identity=("deleted", found, str(deleted.get("when"))),
        time=when or lineage.received_time,
        fields=fields,
        raw=deleted,
    )
