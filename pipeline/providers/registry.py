"""The providers the ingress accepts, by the name in `/v1/webhooks/{provider}/…`; those whose
platform verifies that URL with a GET (`HANDSHAKES`); and the normalizers of what the pollers
write to `polls.raw`, by (provider, resource)."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.events.cloudevent import Lineage
from pipeline.providers.base import Handshaking, Normalized, Provider
from pipeline.providers.hootsuite import Hootsuite
from pipeline.providers.hootsuite_polls import normalize_message_snapshot
from pipeline.providers.linkedin import LinkedIn
from pipeline.providers.meta import Meta
from pipeline.providers.oktopost import Oktopost
from pipeline.providers.snapshot import PollSnapshot
from pipeline.providers.standard import Standard
from pipeline.providers.tiktok import TikTok
from pipeline.providers.x import X
from pipeline.providers.youtube import YouTube

PROVIDERS: dict[str, Provider] = {
    provider.name: provider
    for provider in (
        Oktopost(),
        Hootsuite(),
        Standard(),
        Meta(),
        X(),
        LinkedIn(),
        TikTok(),
        YouTube(),
    )
}
HANDSHAKES: dict[str, Handshaking] = {
    provider.name: provider for provider in (Meta(), X(), LinkedIn(), YouTube())
}

SnapshotNormalizer = Callable[[PollSnapshot, Lineage], Normalized]
SNAPSHOT_NORMALIZERS: dict[tuple[str, str], SnapshotNormalizer] = {
    ("hootsuite", "message"): normalize_message_snapshot
}
