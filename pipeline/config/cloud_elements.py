"""Cloud Elements' instance body → this API's instance fields (admin API → `config.instances`).

Teams moving off Cloud Elements / SAP Open Connectors post the body its docs show: `element.key`
(the provider), `providerData.code` (an OAuth authorization code), `configuration` with dotted
keys, `tags` and `name`. This module maps it onto the fields `create_instance` reads and hands the
code back separately: it is exchanged for tokens before anything is stored, never stored itself.
Configuration values may be strings, as Cloud Elements' own examples send them (`"true"`, `"15"`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.config.requests import RequestError

# Cloud Elements' instance configuration keys, accepted under "configuration".
CLOUD_ELEMENTS_KEYS = frozenset(
    {
        "oauth.callback.url",
        "oauth.api.key",
        "oauth.api.secret",
        "event.notification.enabled",
        "event.notification.callback.url",
        "event.notification.signature.key",
        "event.vendor.type",
        "event.poller.refresh_interval",
    }
)
VENDOR_TYPES = ("polling", "webhook")
# What `oauth.api.key` and `oauth.api.secret` are called in each provider's credentials.
API_KEY_NAMES = {"hootsuite": ("client_id", "client_secret"), "oktopost": ("account_id", "api_key")}
CLOUD_ELEMENTS_FORMAT = "cloud-elements"


@dataclass(frozen=True)
class AuthorizationCode:
    """`providerData.code` and the redirect URI it was issued for (`oauth.callback.url`)."""

    code: str = field(repr=False)
    redirect_uri: str | None


def is_cloud_elements_body(body: dict[str, Any]) -> bool:
    """Cloud Elements' body names its provider as `element.key`."""
    return "element" in body


def translate(body: dict[str, Any]) -> tuple[dict[str, Any], AuthorizationCode | None]:
    """This API's body for a Cloud Elements body (or a body with `configuration` keys), and the
    authorization code to exchange, if any. Explicit fields of this API win over the aliases."""
    merged = {
        k: v for k, v in body.items() if k not in ("element", "providerData", "configuration")
    }
    if is_cloud_elements_body(body):
        element = body["element"]
        if not isinstance(element, dict) or not isinstance(element.get("key"), str):
            raise RequestError("element.key", "must name the provider, e.g. hootsuite")
        merged.setdefault("provider", element["key"])
        merged.setdefault("callback_format", CLOUD_ELEMENTS_FORMAT)
    configuration = body.get("configuration") or {}
    if not isinstance(configuration, dict) or set(configuration) - CLOUD_ELEMENTS_KEYS:
        allowed = ", ".join(sorted(CLOUD_ELEMENTS_KEYS))
        raise RequestError("configuration", f"must be an object with keys among {allowed}")
    _notification(configuration, merged)
    _polling(configuration, merged)
    _api_key(configuration, merged)
    return merged, _code(body, configuration)


def _notification(configuration: dict[str, Any], merged: dict[str, Any]) -> None:
    if "event.notification.enabled" in configuration:
        merged.setdefault("enabled", _flag(configuration, "event.notification.enabled"))
    if "event.notification.callback.url" in configuration:
        merged.setdefault("callback_url", configuration["event.notification.callback.url"])
    if "event.notification.signature.key" in configuration:
        key = configuration["event.notification.signature.key"]
        if key is not None and (not isinstance(key, str) or not key):
            raise RequestError("event.notification.signature.key", "must be a non-empty string")
        merged.setdefault("callback_signature_key", key)


def _polling(configuration: dict[str, Any], merged: dict[str, Any]) -> None:
    given = merged.get("polling")
    polling = dict(given) if isinstance(given, dict) else {}
    if "event.vendor.type" in configuration:
        vendor = configuration["event.vendor.type"]
        if vendor not in VENDOR_TYPES:
            raise RequestError("event.vendor.type", f"must be one of {', '.join(VENDOR_TYPES)}")
        polling.setdefault("enabled", vendor == "polling")
    if "event.poller.refresh_interval" in configuration:
        minutes = _number(configuration, "event.poller.refresh_interval")
        polling.setdefault("interval_seconds", minutes * 60)
    if polling:
        merged["polling"] = polling


def _api_key(configuration: dict[str, Any], merged: dict[str, Any]) -> None:
    names = API_KEY_NAMES.get(str(merged.get("provider")))
    given = {
        k: configuration[k] for k in ("oauth.api.key", "oauth.api.secret") if k in configuration
    }
    if not given:
        return
    if names is None:
        raise RequestError(
            "configuration", "oauth.api.key/secret need a hootsuite or oktopost element"
        )
    current = merged.get("credentials")
    credentials = dict(current) if isinstance(current, dict) else {}
    for key, name in zip(("oauth.api.key", "oauth.api.secret"), names, strict=True):
        if key in given:
            if not isinstance(given[key], str) or not given[key]:
                raise RequestError(key, "must be a non-empty string")
            credentials.setdefault(name, given[key])
    merged["credentials"] = credentials


def _code(body: dict[str, Any], configuration: dict[str, Any]) -> AuthorizationCode | None:
    provider_data = body.get("providerData")
    if provider_data is None:
        return None
    if not isinstance(provider_data, dict):
        raise RequestError("providerData", "must be an object")
    code = provider_data.get("code")
    if code is None:
        return None
    if not isinstance(code, str) or not code:
        raise RequestError("providerData.code", "must be a non-empty string")
    redirect = configuration.get("oauth.callback.url")
    if redirect is not None and not isinstance(redirect, str):
        raise RequestError("oauth.callback.url", "must be a URL string")
    return AuthorizationCode(code, redirect)


def _flag(configuration: dict[str, Any], key: str) -> bool:
    value = configuration[key]
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise RequestError(key, "must be true or false")
    return value


def _number(configuration: dict[str, Any], key: str) -> float:
    value = configuration[key]
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RequestError(key, "must be a positive number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise RequestError(key, "must be a positive number")
    return float(value)
