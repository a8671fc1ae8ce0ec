"""Reading one of Oktopost's paged lists (`GET /v2/webhook`, `GET /v2/webhook-log/{id}`) to its end.

Oktopost documents `_page` as "Page number for pagination. Default: 0", so the first request
asks for page 0. What a server counting from 1 would make of page 0 the documentation does not
say, and reading page 1 first once hid a whole account's webhooks (issue 23), so the reader
works with either base by checking each answer against `Total` and de-duplicating by `Id`:

- counting from 0: pages 0, 1, 2 … each bring new items until `Total` are found;
- counting from 1, page 0 read as page 1: page 1 repeats it (nothing new), page 2 goes on;
- counting from 1, page 0 empty or refused (the client reads a 400 as empty): `Total` says
  there is more, or there is no `Total`, so page 1 is read.

Any other page that brings nothing new ends the reading, so a server that repeats itself cannot
loop it. The result says whether it is complete — exactly `Total` distinct items — which the
webhook manager requires before it takes a webhook it registered for gone (`oktopost.sync`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.providers.errors import ProviderResponseError

Fetch = Callable[[int], Awaitable[dict[str, Any]]]  # page number → the decoded answer


@dataclass(frozen=True)
class Listing:
    """Every distinct item read, and the `Total` of the last answer (None: it had none)."""

    items: list[dict[str, Any]]
    total: int | None

    @property
    def complete(self) -> bool:
        return self.total is not None and len(self.items) == self.total


async def read_pages(fetch: Fetch, page_size: int, what: str) -> Listing:
    """Read pages 0, 1, … of a list of `page_size` items a page (`what` names it in errors)."""
    found: dict[str, dict[str, Any]] = {}
    page = 0
    while True:
        answer = await fetch(page)
        items, total = _items(answer, what), _total(answer)
        new = {key: item for item in items if (key := _identity(item)) not in found}
        found.update(new)
        more = _read_on(
            page, listed=len(items), new=len(new), found=len(found), total=total, size=page_size
        )
        if not more:
            return Listing(list(found.values()), total)
        page += 1


def _read_on(page: int, *, listed: int, new: int, found: int, total: int | None, size: int) -> bool:
    """Whether the page after `page` may hold more."""
    if total is not None and found >= total:
        return False
    if listed == 0:
        return page == 0 and total != 0  # a server counting from 1 may have nothing on page 0
    if new == 0:
        return page == 1  # a server counting from 1 that read page 0 as page 1
    # Without a Total only a full page says there may be more.
    return total is not None or listed >= size


def _identity(item: dict[str, Any]) -> str:
    identity = item.get("Id")
    if isinstance(identity, str | int) and not isinstance(identity, bool):
        return f"id:{identity}"
    return "item:" + orjson.dumps(item, option=orjson.OPT_SORT_KEYS).decode()


def _items(answer: dict[str, Any], what: str) -> list[dict[str, Any]]:
    items = answer.get("Items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ProviderResponseError(f"{what}: Items is not a list of objects")
    return items


def _total(answer: dict[str, Any]) -> int | None:
    total = answer.get("Total")
    if isinstance(total, bool):
        return None
    if isinstance(total, int):
        return total
    # Some APIs send counts as text; anything else is no Total at all.
    return int(total) if isinstance(total, str) and total.isdigit() else None
