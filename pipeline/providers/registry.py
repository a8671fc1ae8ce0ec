"""The providers the ingress accepts, by the name in `/v1/webhooks/{provider}/…`."""

from __future__ import annotations

from pipeline.providers.base import Provider
from pipeline.providers.hootsuite import Hootsuite
from pipeline.providers.oktopost import Oktopost
from pipeline.providers.standard import Standard

PROVIDERS: dict[str, Provider] = {
    provider.name: provider for provider in (Oktopost(), Hootsuite(), Standard())
}
