"""`config.instances` → what one Hootsuite poller needs: interval, window, filters, credentials.

The admin API checks only the basic shape of `polling`, so the rest is checked here, and a bad
value becomes the instance's health (`bad_config`) instead of a crash of the poller service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.config.instances import Instance
from pipeline.pollers.hootsuite_api import HootsuiteCredentials
from pipeline.providers.errors import PollerError
from pipeline.providers.hootsuite_rest import LISTING_STATES, MAX_WINDOW

PROVIDER = "hootsuite"
DEFAULT_API_BASE_URL = "https://platform.hootsuite.com"
DEFAULT_INTERVAL = 60.0
MIN_INTERVAL = 1.0  # a smaller interval only burns the account's daily quota
DEFAULT_LOOKBACK = timedelta(days=1)
DEFAULT_LOOKAHEAD = timedelta(days=7)
DEFAULT_REQUESTS_PER_SECOND = 20.0  # Hootsuite's documented per-account limit


class PollingConfigError(PollerError):
    """An instance's polling settings or credentials cannot be used as given."""

    code = "bad_config"


def is_polled(instance: Instance) -> bool:
    """Whether the Hootsuite poller should run for this instance right now."""
    return (
        instance.provider == PROVIDER
        and instance.enabled
        and instance.polling.get("enabled") is True
    )


def _number(polling: dict[str, Any], key: str, default: float, minimum: float) -> float:
    value = polling.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise PollingConfigError(f"polling.{key} must be a number of at least {minimum:g}")
    return float(value)


def _strings(polling: dict[str, Any], key: str) -> tuple[str, ...]:
    value = polling.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise PollingConfigError(f"polling.{key} must be a list of strings")
    return tuple(str(v) for v in value)


def _credentials(instance: Instance) -> HootsuiteCredentials:
    given = instance.credentials
    client_id, client_secret = given.get("client_id"), given.get("client_secret")
    if not client_id or not client_secret:
        raise PollingConfigError("credentials need client_id and client_secret")
    return HootsuiteCredentials(client_id, client_secret, given.get("refresh_token") or None)


def _listing_states(polling: dict[str, Any]) -> tuple[str, ...]:
    """`polling.states`: only states Hootsuite's listing can filter on (it refuses others)."""
    states = _strings(polling, "states")
    if any(state not in LISTING_STATES for state in states):
        raise PollingConfigError(f"polling.states must be among {', '.join(LISTING_STATES)}")
    return states


@dataclass(frozen=True)
class PollingConfig:
    """One instance's polling settings with the defaults applied and the window clamped."""

    interval: float
    api_base_url: str
    states: tuple[str, ...]
    social_profile_ids: tuple[str, ...]
    lookback: timedelta
    lookahead: timedelta
    max_requests_per_second: float
    credentials: HootsuiteCredentials
    include_raw: bool

    @classmethod
    def from_instance(cls, instance: Instance) -> PollingConfig:
        """The settings of `instance`, or `PollingConfigError` naming the first bad one."""
        polling = instance.polling
        lookback = timedelta(
            seconds=_number(polling, "lookback_seconds", DEFAULT_LOOKBACK.total_seconds(), 0.0)
        )
        lookahead = timedelta(
            seconds=_number(polling, "lookahead_seconds", DEFAULT_LOOKAHEAD.total_seconds(), 0.0)
        )
        # Hootsuite refuses listings over 4 weeks (40020): the past is kept, the future shortened.
        lookback = min(lookback, MAX_WINDOW)
        lookahead = min(lookahead, MAX_WINDOW - lookback)
        api_base_url = instance.api_base_url or polling.get("api_base_url") or DEFAULT_API_BASE_URL
        return cls(
            interval=_number(polling, "interval_seconds", DEFAULT_INTERVAL, MIN_INTERVAL),
            api_base_url=str(api_base_url),
            states=_listing_states(polling),
            social_profile_ids=_strings(polling, "social_profile_ids"),
            lookback=lookback,
            lookahead=lookahead,
            max_requests_per_second=_number(
                polling, "max_requests_per_second", DEFAULT_REQUESTS_PER_SECOND, 0.1
            ),
            credentials=_credentials(instance),
            include_raw=instance.include_raw,
        )

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The listing's [start, end] around `now`."""
        return now - self.lookback, now + self.lookahead
