from __future__ import annotations

from email.utils import formatdate

import pytest

from pipeline.delivery.outcome import (
    Outcome,
    OutcomeKind,
    classify,
    status_class,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert classify(status, {}, None, retry_after_cap=60) == Outcome(
        OutcomeKind.DELIVERED, status, None, None
    )


def test_410_disables_the_subscription() -> None:
    outcome = classify(410, {"retry-after": "5"}, None, retry_after_cap=60)
    assert outcome.kind is OutcomeKind.DISABLE
    assert outcome.status_code == 410
    assert outcome.retry_after is None


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured(status: int) -> None:
    outcome = classify(status, {"Retry-After": "30"}, None, retry_after_cap=60)
    assert outcome == Outcome(OutcomeKind.RETRY, status, 30.0, None)


def test_retry_after_is_capped() -> None:
    outcome = classify(429, {"retry-after": "86400"}, None, retry_after_cap=300)
    assert outcome.retry_after == 300.0


def test_retry_after_http_date() -> None:
    headers = {"Retry-After": formatdate(NOW + 120, usegmt=True)}
    outcome = classify(503, headers, None, retry_after_cap=600, now=NOW)
    assert outcome.retry_after == 120.0
    capped = classify(503, headers, None, retry_after_cap=60, now=NOW)
    assert capped.retry_after == 60.0


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5", "٣", "Mon, 99 Foo 2023"])
def test_malformed_retry_after_is_ignored(value: str) -> None:
    outcome = classify(429, {"retry-after": value}, None, retry_after_cap=60, now=NOW)
    assert outcome.kind is OutcomeKind.RETRY
    assert outcome.retry_after is None


def test_absent_retry_after() -> None:
    assert classify(429, {}, None, retry_after_cap=60).retry_after is None
    assert classify(503, None, None, retry_after_cap=60).retry_after is None


@pytest.mark.parametrize("status", [301, 302, 400, 404, 408, 500, 502, 504])
def test_other_statuses_retry_without_retry_after(status: int) -> None:
    outcome = classify(status, {"retry-after": "10"}, None, retry_after_cap=60)
    assert outcome == Outcome(OutcomeKind.RETRY, status, None, None)


def test_transport_error_retries_and_keeps_the_error() -> None:
    outcome = classify(None, None, "timeout after 5.0s", retry_after_cap=60)
    assert outcome == Outcome(OutcomeKind.RETRY, None, None, "timeout after 5.0s")


def test_outcome_is_frozen() -> None:
    outcome = classify(200, None, None, retry_after_cap=60)
    with pytest.raises(AttributeError):
        outcome.kind = OutcomeKind.RETRY  # type: ignore[misc]  # proving immutability


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (None, "none"),
        (200, "2xx"),
        (302, "3xx"),
        (410, "4xx"),
        (503, "5xx"),
        (101, "1xx"),
        (999, "other"),
    ],
)
def test_status_class(status: int | None, label: str) -> None:
    assert status_class(status) == label
