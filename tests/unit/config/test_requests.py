"""pipeline.config.requests: each body helper returns the value or names the field it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.config.requests import (
    NotFoundError,
    RequestError,
    boolean,
    optional_text,
    text,
    url,
)


def _refusal(call: Any, field: str) -> str:
    with pytest.raises(RequestError) as refused:
        call()
    assert refused.value.field == field
    assert refused.value.code == "invalid_field"
    assert refused.value.retriable is False
    message = str(refused.value)
    assert message.startswith(f"{field}: ")
    return message


def test_text_is_stripped_and_required() -> None:
    assert text({"name": "  n  "}, "name") == "n"
    for body in ({}, {"name": ""}, {"name": "   "}, {"name": 3}):
        _refusal(lambda body=body: text(body, "name"), "name")


def test_optional_text_is_none_when_absent_null_or_blank() -> None:
    assert optional_text({}, "d") is None
    assert optional_text({"d": None}, "d") is None
    assert optional_text({"d": "  "}, "d") is None
    assert optional_text({"d": " x "}, "d") == "x"
    assert "string or null" in _refusal(lambda: optional_text({"d": 1}, "d"), "d")


def test_boolean_takes_true_false_or_the_default_only() -> None:
    assert boolean({}, "on", default=True) is True
    assert boolean({"on": False}, "on", default=True) is False
    for value in ("true", 1, 0, None):
        _refusal(lambda value=value: boolean({"on": value}, "on", default=True), "on")


@pytest.mark.parametrize(
    "value", ["https://a.example/x?y=1", "http://127.0.0.1:9000/in", "https://[::1]/"]
)
def test_an_absolute_http_url_is_kept(value: str) -> None:
    assert url({"u": value}, "u") == value
    assert url({}, "u") is None
    assert url({"u": None}, "u") is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ftp://a.example/", "absolute http or https"),
        ("/relative/path", "absolute http or https"),
        ("https://", "absolute http or https"),
        ("https://user:pw@a.example/", "credentials"),
        (42, "URL string"),
    ],
)
def test_other_urls_are_refused_under_the_name_given(value: object, problem: str) -> None:
    message = _refusal(lambda: url({"u": value}, "u", field_name="callback"), "callback")
    assert problem in message
    assert "pw" not in message


def test_not_found_is_its_own_code() -> None:
    assert NotFoundError("no instance 'x'").code == "not_found"
