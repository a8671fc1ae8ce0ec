"""The mapping table (docs/reference/providers.md) names every normalized type a provider emits,
and every provider."""

from __future__ import annotations

import re

from pipeline.events.types import EVENT_TYPES
from pipeline.providers.registry import PROVIDERS
from pipeline.settings import REPO_ROOT

# In the catalog for providers to come (the docs say so under the table).
UNEMITTED = {"stream.message"}
SOURCES = {
    "oktopost": "Oktopost",
    "hootsuite": "Hootsuite",
    "standard": "Standard Webhooks",
    "meta": "Meta",
    "x": "X",
    "linkedin": "LinkedIn",
    "tiktok": "TikTok",
    "youtube": "YouTube",
}


def _rows() -> list[list[str]]:
    page = (REPO_ROOT / "docs/reference/providers.md").read_text()
    start = page.index("## Mapping")
    end = page.find("\n## ", start + 1)
    table = page[start : end if end >= 0 else len(page)]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ")]
    return [row for row in rows[1:] if len(row) == 4]  # after the header


def test_every_type_a_provider_emits_has_a_row() -> None:
    named = {name for row in _rows() for name in re.findall(r"`([a-z_]+\.[a-z_]+)`", row[2])}
    mapped = {name for name in named if not name.startswith("data.")}  # `data.kind` notes
    assert set(EVENT_TYPES) - UNEMITTED <= mapped
    assert mapped <= set(EVENT_TYPES)  # no row names a type the catalog lacks


def test_every_provider_has_rows() -> None:
    sources = {row[0].removeprefix("| ") for row in _rows()}
    assert set(SOURCES) == set(PROVIDERS)
    for provider, label in SOURCES.items():
        assert any(source.startswith(label) for source in sources), provider
