"""Which page comes from which renderer, and which committed pages are stale."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pipeline.docs_gen import (
    alerts_page,
    api_page,
    cli_page,
    events_page,
    metrics_page,
    settings_page,
    topics_page,
)
from pipeline.settings import REPO_ROOT

REFERENCE = REPO_ROOT / "docs" / "reference"
PAGES: dict[str, Callable[[], str]] = {
    "settings.md": settings_page.render,
    "cli.md": cli_page.render,
    "http-api.md": api_page.render,
    "events.md": events_page.render,
    "topics.md": topics_page.render,
    "metrics.md": metrics_page.render,
    "alerts.md": alerts_page.render,
}


def rendered() -> dict[Path, str]:
    return {REFERENCE / name: render() for name, render in PAGES.items()}


def stale(pages: dict[Path, str]) -> list[Path]:
    """The pages whose file is missing or differs from what was rendered now."""
    return [path for path, text in pages.items() if not path.exists() or path.read_text() != text]


def write(pages: dict[Path, str]) -> list[Path]:
    """Write the stale pages; returns them."""
    changed = stale(pages)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(pages[path])
    return changed
