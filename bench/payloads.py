"""What the load generator sends: signed Oktopost webhooks, Hootsuite batches, provider retries.

Every original request carries new occurrences (unique object ids and `seq_no`s), so the pipeline
must deliver each of its events exactly once; a duplicate is a byte-identical resend of a recent
original, as a provider retrying would send it. Each request lists the CloudEvent ids the pipeline
derives from it (DESIGN.md: ids are deterministic from the provider's identity of the occurrence).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from pipeline.delivery.signing import delivery_headers, webhook_id
from pipeline.events.cloudevent import Lineage, event_id, rfc3339
from pipeline.events.envelope import WebhookEnvelope, encode_envelope
from pipeline.providers.oktopost import Oktopost

# Oktopost event → (the data field holding the object id, the data field holding its time).
OKTOPOST_EVENTS = (
    ("postSent", "postId", "sentAt"),
    ("postCreated", "postId", "createdAt"),
    ("newConversation", "conversationId", "createdAt"),
    ("newLeadActivity", "leadId", "createdAt"),
)
HOOTSUITE_MESSAGES = "com.hootsuite.messages.event.v1"
HOOTSUITE_STATES = ("SENT", "SCHEDULED", "APPROVED", "REJECTED")
RECENT_ORIGINALS = 2000  # a retry resends one of this many latest originals


@dataclass(frozen=True)
class Request:
    """One HTTP request of a run and the CloudEvent ids it carries."""

    path: str
    body: bytes
    headers: dict[str, str]
    event_ids: tuple[str, ...]
    duplicate: bool = False


@dataclass(frozen=True)
class Mix:
    """The shape of the offered load."""

    duplicate_share: float = 0.10
    hootsuite_share: float = 0.30
    batch_size: int = 3
    text_bytes: int = 256


@dataclass(frozen=True)
class Instances:
    """The registered instances' ids, webhook paths and Oktopost's signing secret."""

    oktopost_id: str
    oktopost_path: str
    oktopost_secret: str
    hootsuite_id: str
    hootsuite_path: str

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def filler_text(size: int) -> str:
    words = "Launch day for the new product line, join our live stream and share your story. "
    return (words * (size // len(words) + 1))[:size]


def hex_hmac_sha256(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookFactory:
    """Requests for one run, in order; `tag` keeps this run's occurrences apart from others'."""

    def __init__(self, instances: Instances, mix: Mix, tag: str, seed: int = 7) -> None:
        self._instances = instances
        self._mix = mix
        self._tag = tag
        self._random = random.Random(seed)  # noqa: S311 - load shape, not security
        self._recent: deque[Request] = deque(maxlen=RECENT_ORIGINALS)
        self._count = 0
        self._text = filler_text(mix.text_bytes)

    def next(self) -> Request:
        if self._recent and self._random.random() < self._mix.duplicate_share:
            original = self._random.choice(self._recent)
            return Request(original.path, original.body, original.headers, original.event_ids, True)
        self._count += 1
        if self._random.random() < self._mix.hootsuite_share:
            request = self._hootsuite()
        else:
            request = self._oktopost()
        self._recent.append(request)
        return request

    def _oktopost(self) -> Request:
        event, id_field, time_field = OKTOPOST_EVENTS[self._count % len(OKTOPOST_EVENTS)]
        object_id = f"{self._tag}o{self._count}"
        timestamp = int(time.time())
        webhook = f"0WA{self._tag}"
        data = {
            id_field: object_id,
            "network": "LinkedIn",
            "campaignId": f"{self._tag}c",
            "message": self._text,
            time_field: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp)),
        }
        payload = {"event": event, "timestamp": timestamp, "webhookId": webhook, "data": data}
        body = orjson.dumps(payload)
        instance = self._instances.oktopost_id
        ids = (event_id("oktopost", instance, webhook, event, object_id, timestamp),)
        headers = {
            "content-type": "application/json",
            "x-oktopost-signature": hex_hmac_sha256(self._instances.oktopost_secret, body),
        }
        return Request(self._instances.oktopost_path, body, headers, ids)

    def _hootsuite(self) -> Request:
        moment = rfc3339(datetime.now(UTC))
        elements = []
        for part in range(self._mix.batch_size):
            # "h" ends the tag: without it round 1's 15th ("r1" "15") was round 11's 5th ("r11" "5")
            seq_no = f"{self._tag}h{self._count}s{part}"
            state = HOOTSUITE_STATES[(self._count + part) % len(HOOTSUITE_STATES)]
            elements.append(
                {
                    "seq_no": seq_no,
                    "type": HOOTSUITE_MESSAGES,
                    "data": {
                        "state": state,
                        "organization": {"id": "814"},
                        "message": {"id": f"{self._tag}m{self._count}s{part}"},
                        "timestamp": moment,
                    },
                }
            )
        instance = self._instances.hootsuite_id
        ids = tuple(event_id("hootsuite", instance, e["seq_no"]) for e in elements)
        headers = {"content-type": "application/json"}
        return Request(self._instances.hootsuite_path, orjson.dumps(elements), headers, ids)


class DeliveryFactory:
    """What the pipeline would POST to a subscriber: signed CloudEvents (the delivery baseline)."""

    def __init__(self, secret: str, mix: Mix, tag: str) -> None:
        self._secret = secret
        self._instances = Instances("bench-okto", "/", "s", "bench-hoot", "/")
        self._webhooks = WebhookFactory(
            self._instances, Mix(0.0, 0.0, 1, mix.text_bytes), tag, seed=11
        )
        self._provider = Oktopost()

    def next(self) -> Request:
        webhook = self._webhooks.next()
        lineage = Lineage("oktopost", self._instances.oktopost_id, rfc3339(datetime.now(UTC)))
        [event] = self._provider.normalize(orjson.loads(webhook.body), {}, lineage).events
        body = orjson.dumps(event)
        msg_id = webhook_id("bench-baseline", event["source"], event["id"])
        headers = delivery_headers([self._secret], msg_id, int(time.time()), body)
        return Request("/hook", body, headers, (str(event["id"]),))


def envelope_size(request: Request) -> int:
    """The size of the `webhooks.raw` record the ingress writes for `request` (about)."""
    envelope = WebhookEnvelope(
        request_id="0" * 32,
        provider="oktopost",
        instance_id="bench-oktopost",
        received_at=rfc3339(datetime.now(UTC)),
        headers={"content-type": "application/json"},
        body=request.body,
    )
    return len(encode_envelope(envelope))
