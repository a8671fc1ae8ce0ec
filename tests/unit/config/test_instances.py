from __future__ import annotations

import pytest

from pipeline.config.instances import (
    create_instance,
    decode_instance,
    encode_instance,
    instance_id_from_key,
    instance_key,
    patch_instance,
)
from pipeline.config.requests import RequestError


def test_webhook_key_is_base64url_of_the_id() -> None:
    assert instance_key("okto1") == "b2t0bzE"
    assert instance_id_from_key("b2t0bzE") == "okto1"
    assert instance_id_from_key("!!!") is None


def test_a_generated_secret_is_returned_once_and_never_shown_again() -> None:
    instance, generated = create_instance({"provider": "standard", "name": "s"})
    assert generated is not None
    assert generated.startswith("whsec_")
    assert instance.signing_secret == generated
    shown = instance.public("http://example.test")
    assert generated not in str(shown)
    assert shown["has_signing_secret"] is True
    assert shown["webhook_url"] == (
        f"http://example.test/v1/webhooks/standard/{instance_key(instance.id)}"
    )


def test_a_given_secret_is_kept_and_not_echoed() -> None:
    given = "from-okto"
    instance, generated = create_instance({"provider": "oktopost", "signing_secret": given})
    assert generated is None
    assert instance.signing_secret == given
    assert given not in str(instance.public("http://x"))


def test_hootsuite_gets_no_generated_secret() -> None:
    instance, generated = create_instance({"provider": "hootsuite"})
    assert (instance.signing_secret, generated) == (None, None)


def test_credentials_are_write_only() -> None:
    instance, _ = create_instance(
        {"provider": "hootsuite", "credentials": {"client_id": "id", "client_secret": "shh"}}
    )
    shown = instance.public("http://x")
    assert shown["credentials"] == ["client_id", "client_secret"]
    assert "shh" not in str(shown)


def test_round_trip_through_the_topic_format() -> None:
    instance, _ = create_instance({"provider": "oktopost", "id": "okto-1", "name": "n"})
    assert decode_instance(encode_instance(instance)) == instance


def test_cloud_elements_configuration_keys() -> None:
    instance, _ = create_instance(
        {
            "provider": "hootsuite",
            "configuration": {
                "event.notification.enabled": False,
                "event.notification.callback.url": "https://hooks.example.com/in",
                "event.vendor.type": "polling",
                "event.poller.refresh_interval": 2,
            },
        }
    )
    assert instance.enabled is False
    assert instance.callback_url == "https://hooks.example.com/in"
    assert instance.polling == {"enabled": True, "interval_seconds": 120}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "myspace"}, "provider"),
        ({}, "provider"),
        ({"provider": "oktopost", "enabled": "yes"}, "enabled"),
        ({"provider": "oktopost", "callback_url": "ftp://x"}, "callback_url"),
        ({"provider": "oktopost", "callback_url": "https://u:p@x"}, "callback_url"),
        ({"provider": "oktopost", "id": "a/b"}, "id"),
        ({"provider": "oktopost", "polling": {"interval_seconds": 0}}, "polling.interval_seconds"),
        ({"provider": "oktopost", "polling": {"colour": "red"}}, "polling"),
        ({"provider": "oktopost", "verify_token": "t"}, "verify_token"),
        ({"provider": "meta", "verify_token": 1}, "verify_token"),
        ({"provider": "meta", "channels": ["UC1"]}, "channels"),
    ],
)
def test_invalid_fields_are_named(body: dict[str, object], field: str) -> None:
    with pytest.raises(RequestError) as caught:
        create_instance(body)
    assert caught.value.field == field


def test_patch_changes_what_it_names_and_not_the_identity() -> None:
    instance, _ = create_instance({"provider": "oktopost", "name": "before"})
    patched = patch_instance(instance, {"name": "after", "enabled": False})
    assert (patched.name, patched.enabled, patched.id) == ("after", False, instance.id)
    with pytest.raises(RequestError, match="provider"):
        patch_instance(instance, {"provider": "hootsuite"})
