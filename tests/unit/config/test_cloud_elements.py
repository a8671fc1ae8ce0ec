from __future__ import annotations

import pytest

from pipeline.config.cloud_elements import translate
from pipeline.config.instances import create_instance
from pipeline.config.requests import RequestError

BODY = {
    "element": {"key": "hootsuite"},
    "providerData": {"code": "c0de"},
    "configuration": {
        "oauth.callback.url": "https://app.example.com/cb",
        "oauth.api.key": "key",
        "oauth.api.secret": "shh",
        "event.notification.enabled": "true",
        "event.notification.callback.url": "https://hooks.example.com/in",
        "event.notification.signature.key": "sig-key",
        "event.vendor.type": "polling",
        "event.poller.refresh_interval": "15",
    },
    "tags": ["a", "b"],
    "name": "mine",
}


def test_the_cloud_elements_body_maps_onto_the_instance_fields() -> None:
    body, code = translate(BODY)
    assert code is not None
    assert (code.code, code.redirect_uri) == ("c0de", "https://app.example.com/cb")
    assert "c0de" not in repr(code)
    instance, _ = create_instance(body)
    assert instance.provider == "hootsuite"
    assert (instance.name, instance.tags, instance.enabled) == ("mine", ["a", "b"], True)
    assert instance.callback_url == "https://hooks.example.com/in"
    assert (instance.callback_format, instance.callback_signature_key) == (
        "cloud-elements",
        "sig-key",
    )
    assert instance.polling == {"enabled": True, "interval_seconds": 900}
    assert instance.credentials == {"client_id": "key", "client_secret": "shh"}
    shown = instance.public("http://x")
    assert "sig-key" not in str(shown)
    assert "shh" not in str(shown)
    assert shown["has_callback_signature_key"] is True


def test_a_plain_body_keeps_the_cloudevents_callback_format() -> None:
    instance, _ = create_instance({"provider": "hootsuite", "api_base_url": "http://sim:1"})
    assert instance.callback_format == "cloudevents"
    assert instance.api_base_url == "http://sim:1"


def test_a_code_outside_create_is_refused() -> None:
    with pytest.raises(RequestError, match=r"providerData\.code"):
        create_instance(BODY)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"element": {"key": 3}}, "element.key"),
        ({"configuration": {"event.vendor.type": "carrier-pigeon"}}, "event.vendor.type"),
        (
            {"configuration": {"event.poller.refresh_interval": "often"}},
            "event.poller.refresh_interval",
        ),
        ({"configuration": {"colour": "red"}}, "configuration"),
        ({"providerData": {"code": ""}}, "providerData.code"),
    ],
)
def test_bad_cloud_elements_fields_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(RequestError) as caught:
        translate({**BODY, **changes})
    assert caught.value.field == field


def test_oktopost_fields_are_checked() -> None:
    with pytest.raises(RequestError, match="oktopost_events"):
        create_instance({"provider": "oktopost", "oktopost_events": ["postTweeted"]})
    with pytest.raises(RequestError, match="reconcile_interval_seconds"):
        create_instance({"provider": "oktopost", "reconcile_interval_seconds": 1})


def test_an_unhashable_event_is_a_field_error() -> None:
    with pytest.raises(RequestError, match="oktopost_events"):
        create_instance({"provider": "oktopost", "oktopost_events": [["postSent"]]})
