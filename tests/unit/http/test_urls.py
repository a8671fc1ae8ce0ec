"""pipeline.http.urls: the cases where urllib's `urlsplit` (the admin API's old reading) and yarl
(what aiohttp connects with) disagreed are now refused everywhere, with the same reason."""

from __future__ import annotations

import pytest

from pipeline.config.requests import RequestError, url
from pipeline.config.subscriptions import create_subscription
from pipeline.delivery.destinations import check_literal_destination
from pipeline.delivery.errors import DestinationRefusedError
from pipeline.http.urls import URLSyntaxError, callback_host

# Each was accepted (or crashed with a bare ValueError) by `urlsplit`, and is refused by yarl.
DISAGREED = [
    ("http://hook.example:99999/", "invalid_url"),  # port out of range: urlsplit never looked
    ("https://:@hook.example/", "credentials_in_url"),  # empty user and password were falsy
    ("http://hook.example\\@evil.example/", "invalid_url"),  # urlsplit: host evil.example
    ("http://[::1/in", "invalid_url"),  # urlsplit raised ValueError: a 500, not a 422
]


@pytest.mark.parametrize(("value", "reason"), DISAGREED)
def test_what_urlsplit_let_through_is_refused_by_every_reader(value: str, reason: str) -> None:
    with pytest.raises(URLSyntaxError) as caught:
        callback_host(value)
    assert caught.value.reason == reason
    with pytest.raises(RequestError) as field:
        url({"callback": value}, "callback")
    assert field.value.field == "callback"
    with pytest.raises(RequestError) as stored:
        create_subscription({"name": "n", "url": value, "event_types": ["post.sent"]})
    assert stored.value.field == "url"
    with pytest.raises(DestinationRefusedError) as refused:
        check_literal_destination(value, allow_private=True)
    assert refused.value.reason == reason


def test_the_host_is_the_one_connected_to() -> None:
    assert callback_host("HTTP://Hook.Example:8443/in?token=abc") == "hook.example"
    assert callback_host("http://[2606:4700::1111]/") == "2606:4700::1111"


def test_admin_url_names_credentials_and_keeps_a_good_url() -> None:
    with pytest.raises(RequestError, match="must not carry credentials"):
        url({"u": "https://user:pw@hook.example/"}, "u")
    with pytest.raises(RequestError, match="absolute http or https"):
        url({"u": "ftp://hook.example/"}, "u")
    assert url({"u": "https://hook.example/in"}, "u") == "https://hook.example/in"
    assert url({}, "u") is None
