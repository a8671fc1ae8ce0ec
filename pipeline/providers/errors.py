"""Errors of talking to a provider's API: the pollers' clients, Oktopost's webhooks API.

Retry code reads `retriable`.
"""

from __future__ import annotations

from pipeline.errors import PipelineError


class PollerError(PipelineError):
    """Base of every error a poller raises about a provider."""

    code = "poller_error"


class AuthError(PollerError):
    """The provider refused our credentials or token; retrying as-is will not help."""

    code = "provider_auth"


class RateLimitedError(PollerError):
    """The provider kept answering 429 after every permitted wait."""

    retriable = True
    code = "provider_rate_limited"


class ProviderUnavailableError(PollerError):
    """The provider kept failing (5xx, timeout, connection error) after every permitted retry."""

    retriable = True
    code = "provider_unavailable"


class ProviderResponseError(PollerError):
    """The provider answered with a status or body we do not understand."""

    code = "provider_response"


class ConfigUnreadableError(PollerError):
    """A record the instance's polling depends on cannot be read by this process (a seal its
    key ring does not open); polling waits until it can."""

    code = "config_unreadable"


class WebhooksUnlistedError(ProviderResponseError):
    """Webhooks the pipeline registered are missing from the provider's listing of them."""

    code = "webhooks_unlisted"
