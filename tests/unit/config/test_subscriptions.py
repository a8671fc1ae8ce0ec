from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from pipeline.config.requests import RequestError
from pipeline.config.subscriptions import (
    Subscription,
    create_subscription,
    decode_subscription,
    disable_gone,
    encode_subscription,
    list_page,
    patch_subscription,
    rotate_secret,
    type_matches,
)
from pipeline.delivery.signing import delivery_headers
from pipeline.http.standard_webhooks import sign


def make(**fields: object) -> Subscription:
    return create_subscription({"name": "n", "url": "https://hooks.example.com/x", **fields})


@pytest.mark.parametrize(
    ("patterns", "event_type", "expected"),
    [
        (["*"], "lead.created", True),
        (["post.*"], "post.sent", True),
        (["post.*"], "postal.sent", False),
        (["post.sent"], "post.sent", True),
        (["post.sent"], "post.failed", False),
        (["lead.created", "post.*"], "post.failed", True),
    ],
)
def test_type_patterns(patterns: list[str], event_type: str, expected: bool) -> None:
    assert type_matches(patterns, event_type) is expected


def test_matching_honours_instances_and_enabled() -> None:
    subscription = make(event_types=["post.*"], instance_ids=["a"])
    assert subscription.matches("post.sent", "a")
    assert not subscription.matches("post.sent", "b")
    assert not subscription.matches("lead.created", "a")
    assert not msgspec.structs.replace(subscription, enabled=False).matches("post.sent", "a")
    assert make().matches("lead.created", "anything")  # default: every event of every instance


def test_the_secret_is_never_in_the_public_view() -> None:
    subscription = make()
    assert subscription.secret.startswith("whsec_")
    assert subscription.secret not in str(subscription.public())
    rotated = rotate_secret(subscription)
    assert subscription.secret not in str(rotated.public())
    assert rotated.secret not in str(rotated.public())


def test_rotation_keeps_the_old_secret_for_the_grace_period() -> None:
    subscription = make()
    rotated = rotate_secret(subscription)
    now = datetime.now(UTC)
    assert rotated.signing_secrets(now) == [rotated.secret, subscription.secret]
    assert rotated.signing_secrets(now + timedelta(days=2)) == [rotated.secret]


def test_410_disables_with_a_reason_and_enabling_clears_it() -> None:
    disabled = disable_gone(make(), 410)
    assert not disabled.enabled
    assert disabled.disabled_reason is not None
    assert "410" in disabled.disabled_reason
    enabled = patch_subscription(disabled, {"enabled": True})
    assert (enabled.enabled, enabled.disabled_reason) == (True, None)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "ftp://x"}, "url"),
        ({"url": "https://user:pw@x.example"}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["post.exploded"]}, "event_types"),
        ({"event_types": ["POST.*"]}, "event_types"),
        ({"instance_ids": "a"}, "instance_ids"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_fields_are_named(fields: dict[str, object], field: str) -> None:
    with pytest.raises(RequestError) as caught:
        make(**fields)
    assert caught.value.field == field


def test_listing_filters_orders_and_pages() -> None:
    subscriptions = [make(name=f"s{n:02d}", event_types=["post.*"]) for n in range(30)]
    subscriptions.append(make(name="leads only", event_types=["lead.created"]))
    page, total = list_page(subscriptions, {"event_type": "post.sent", "order": "-name"})
    assert total == 30
    assert [s.name for s in page][:2] == ["s29", "s28"]
    assert len(page) == 20
    second, _ = list_page(subscriptions, {"event_type": "post.sent", "page": "2", "count": "25"})
    assert len(second) == 5
    named, total = list_page(subscriptions, {"name": "LEADS"})
    assert (total, named[0].name) == (1, "leads only")
    with pytest.raises(RequestError, match="count"):
        list_page(subscriptions, {"count": "7"})
    with pytest.raises(RequestError, match="order"):
        list_page(subscriptions, {"order": "url"})


def test_round_trip_through_the_topic_format() -> None:
    subscription = make(instance_ids=["a"])
    assert decode_subscription(encode_subscription(subscription)) == subscription


def test_an_unpadded_secret_is_accepted_by_the_admin_api_and_signs() -> None:
    # The admin API once decoded strictly padded base64 while the signer padded: it refused
    # secrets the signer (and receivers' libraries) accept.
    padded = "whsec_" + base64.b64encode(b"k" * 32).decode()
    assert padded.endswith("=")
    unpadded = padded.rstrip("=")
    body = {"name": "n", "url": "https://hook.example/", "event_types": ["post.sent"]}
    subscription = create_subscription({**body, "secret": unpadded})
    assert subscription.secret == unpadded
    headers = delivery_headers(subscription.signing_secrets(datetime.now(UTC)), "m", 1, b"{}")
    assert headers["webhook-signature"] == sign(padded, "m", 1, b"{}")


@pytest.mark.parametrize("secret", ["whsec_" + "A" * 20, "whsec_not*base64!", "k" * 44])
def test_a_short_or_malformed_secret_is_refused_by_the_admin_api(secret: str) -> None:
    body = {"name": "n", "url": "https://hook.example/", "event_types": ["post.sent"]}
    with pytest.raises(RequestError) as caught:
        create_subscription({**body, "secret": secret})
    assert caught.value.field == "secret"


def test_ordering_is_none_unless_asked_and_only_none_or_subject() -> None:
    assert make().ordering == "none"
    assert make().ordered is False
    ordered = make(ordering="subject")
    assert (ordered.ordering, ordered.ordered) == ("subject", True)
    assert patch_subscription(ordered, {"ordering": "none"}).ordered is False
    assert patch_subscription(ordered, {"name": "m"}).ordered is True
    with pytest.raises(RequestError) as caught:
        make(ordering="fifo")
    assert caught.value.field == "ordering"
    # a record written before the field existed reads as unordered
    old = msgspec.json.encode({**msgspec.structs.asdict(make()), "ordering": None})
    old = old.replace(b',"ordering":null', b"")
    assert decode_subscription(old).ordering == "none"
