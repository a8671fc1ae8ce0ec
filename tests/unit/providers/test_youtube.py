"""YouTube (WebSub): the hub's verification, X-Hub-Signature, Atom parsing (no XML bombs)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import (
    HandshakeParameterError,
    HandshakeRefusedError,
    InstanceKeys,
    PayloadError,
    SignatureError,
)
from pipeline.providers.youtube import YouTube, channel_of, feed_topic
from pipeline.simulators.social import YOUTUBE_CHANNEL, sample, youtube_feed
from tests.support.totality import check_normalized

PROVIDER = YouTube()
LINEAGE = Lineage("youtube", "inst1", "2025-11-20T12:30:01.000Z")
KEYS = InstanceKeys("inst1", "hub-secret", channels=(YOUTUBE_CHANNEL,))
TOPIC = feed_topic(YOUTUBE_CHANNEL)


def _verify(mode: str, topic: str = TOPIC, **extra: str) -> dict[str, str]:
    return {"hub.mode": mode, "hub.topic": topic, "hub.challenge": "ch-1", **extra}


def test_a_subscription_to_a_listed_channel_is_confirmed_with_its_lease() -> None:
    answer = PROVIDER.handshake(KEYS, _verify("subscribe", **{"hub.lease_seconds": "864000"}))
    assert answer.body == b"ch-1"
    assert answer.lease is not None
    assert (answer.lease.channel_id, answer.lease.lease_seconds) == (YOUTUBE_CHANNEL, 864000)


@pytest.mark.parametrize(
    "query",
    [
        _verify("subscribe", feed_topic("UCsomeoneelse")),
        _verify(
            "subscribe", "https://example.com/xml/feeds/videos.xml?channel_id=" + YOUTUBE_CHANNEL
        ),
        _verify("unsubscribe"),  # a channel the instance still lists
        _verify("renew"),
    ],
)
def test_a_topic_the_instance_never_asked_for_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(HandshakeRefusedError):
        PROVIDER.handshake(KEYS, query)


def test_an_unsubscription_of_a_dropped_channel_is_confirmed_and_ends_the_lease() -> None:
    answer = PROVIDER.handshake(KEYS, _verify("unsubscribe", feed_topic("UCdropped")))
    assert answer.body == b"ch-1"
    assert answer.lease is not None
    assert answer.lease.lease_seconds is None


def test_a_verification_without_a_challenge_is_a_missing_parameter() -> None:
    with pytest.raises(HandshakeParameterError):
        PROVIDER.handshake(KEYS, {"hub.mode": "subscribe", "hub.topic": TOPIC})


def test_channel_of_reads_only_youtube_feed_urls() -> None:
    assert channel_of(TOPIC) == YOUTUBE_CHANNEL
    assert (
        channel_of("https://www.youtube.com/xml/feeds/videos.xml?channel_id=a&channel_id=b") is None
    )
    assert channel_of("not a url") is None


def test_the_signature_is_hex_hmac_sha1_of_the_body() -> None:
    body = sample("youtube", "new_video")
    good = "sha1=" + hmac.new(b"hub-secret", body, hashlib.sha1).hexdigest()
    PROVIDER.verify("hub-secret", {"x-hub-signature": good}, body, 0)
    for given in (good.replace("sha1=", "sha256="), "sha1=" + "0" * 40, ""):
        with pytest.raises(SignatureError):
            PROVIDER.verify("hub-secret", {"x-hub-signature": given}, body, 0)


def test_a_new_video_is_video_published_an_edit_video_updated_with_another_id() -> None:
    new = check_normalized(
        PROVIDER.normalize(PROVIDER.parse(sample("youtube", "new_video")), {}, LINEAGE)
    )
    edit = check_normalized(
        PROVIDER.normalize(PROVIDER.parse(sample("youtube", "edited_video")), {}, LINEAGE)
    )
    assert [(e["type"], e["subject"]) for e in new] == [("video.published", "videos/dQw4w9WgXcQ")]
    assert [(e["type"], e["subject"]) for e in edit] == [("video.updated", "videos/dQw4w9WgXcQ")]
    assert new[0]["id"] != edit[0]["id"]
    data = new[0]["data"]
    assert (data["channel_id"], data["title"]) == (YOUTUBE_CHANNEL, "Launch day")
    assert data["url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    again = PROVIDER.normalize(PROVIDER.parse(youtube_feed()), {}, LINEAGE).events
    assert again[0]["id"] == new[0]["id"]  # the hub's retry


def test_a_deleted_entry_is_video_deleted() -> None:
    payload = PROVIDER.parse(sample("youtube", "deleted_video"))
    [found] = check_normalized(PROVIDER.normalize(payload, {}, LINEAGE))
    assert (found["type"], found["subject"]) == ("video.deleted", "videos/dQw4w9WgXcQ")
    assert found["time"] == "2024-12-07T09:00:00.000Z"
    assert found["data"]["channel_id"] == YOUTUBE_CHANNEL


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&lol2;</title></entry></feed>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>&xxe;</title></entry></feed>"""


@pytest.mark.parametrize("body", [BOMB, EXTERNAL, b"<feed>", b"{}", b"<rss/>", b"\xff"])
def test_unsafe_or_malformed_xml_is_unparseable(body: bytes) -> None:
    with pytest.raises(PayloadError):
        PROVIDER.parse(body)


def test_an_empty_feed_is_an_empty_batch() -> None:
    payload = PROVIDER.parse(b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>')
    assert [r.reason for r in PROVIDER.normalize(payload, {}, LINEAGE).rejected] == ["empty_batch"]
