"""An instance's `polling` settings: defaults, the 4-week window, and what stops polling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from pipeline.pollers.polling_config import (
    DEFAULT_API_BASE_URL,
    PollingConfig,
    PollingConfigError,
    is_polled,
)
from tests.unit.pollers.conftest import make_instance


def test_defaults_follow_the_issue() -> None:
    config = PollingConfig.from_instance(make_instance())
    assert config.interval == 60.0
    assert (config.lookback, config.lookahead) == (timedelta(days=1), timedelta(days=7))
    assert config.api_base_url == DEFAULT_API_BASE_URL
    assert config.max_requests_per_second == 20.0
    assert (config.states, config.social_profile_ids) == ((), ())
    now = datetime(2026, 3, 2, tzinfo=UTC)
    assert config.window(now) == (now - timedelta(days=1), now + timedelta(days=7))


def test_the_window_never_exceeds_four_weeks() -> None:
    config = PollingConfig.from_instance(
        make_instance(lookback_seconds=20 * 86400, lookahead_seconds=20 * 86400)
    )
    assert config.lookback == timedelta(days=20)
    assert config.lookback + config.lookahead == timedelta(weeks=4)


def test_filters_are_strings() -> None:
    config = PollingConfig.from_instance(
        make_instance(states=["SENT"], social_profile_ids=[115000001, "7"])
    )
    assert (config.states, config.social_profile_ids) == (("SENT",), ("115000001", "7"))


@pytest.mark.parametrize(
    "polling",
    [
        {"interval_seconds": 0.2},
        {"interval_seconds": True},
        {"lookback_seconds": -1},
        {"states": "SENT"},
        {"states": ["SUBMITTED"]},  # a message state, but not a filter Hootsuite lists by
        {"social_profile_ids": [{"id": 1}]},
        {"max_requests_per_second": 0},
    ],
)
def test_unusable_values_name_the_setting(polling: dict[str, Any]) -> None:
    with pytest.raises(PollingConfigError, match=f"polling.{next(iter(polling))}"):
        PollingConfig.from_instance(make_instance(**polling))


def test_credentials_need_a_client_id_and_secret() -> None:
    instance = make_instance(credentials={"client_id": "app", "client_secret": None})
    with pytest.raises(PollingConfigError, match="client_secret"):
        PollingConfig.from_instance(instance)


def test_only_enabled_hootsuite_instances_with_polling_on_are_polled() -> None:
    instance = make_instance()
    assert is_polled(instance)
    assert not is_polled(msgspec.structs.replace(instance, enabled=False))
    assert not is_polled(msgspec.structs.replace(instance, provider="oktopost"))
    assert not is_polled(msgspec.structs.replace(instance, polling={"enabled": False}))
    assert not is_polled(msgspec.structs.replace(instance, polling={}))
