"""deliver agent → subscriber: the DNS resolver of the delivery client, where SSRF is decided.

aiohttp connects to exactly the addresses its resolver returns (and verifies TLS against the URL's
host name, not the address). This resolver asks the real one once, refuses the whole answer when
any address is loopback, private, link-local, metadata or otherwise not public, and hands the
checked addresses on unchanged: there is no second lookup for a rebinding DNS server to answer
differently. Hosts written as addresses never reach a resolver; `check_literal_destination`
checks those before the request.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult

from pipeline.delivery.destinations import parse_address, refuse_blocked
from pipeline.delivery.errors import DestinationRefusedError


class GuardedResolver(AbstractResolver):
    """Resolves with `inner` and raises `DestinationRefusedError` for a non-public answer."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answer = await self._inner.resolve(host, port, family)
        addresses = [parse_address(info["host"]) for info in answer]
        checked = [address for address in addresses if address is not None]
        if len(checked) != len(addresses) or not checked:
            raise DestinationRefusedError("unresolvable_host", f"host {host!r} has no IP address")
        refuse_blocked(host, checked)
        return answer

    async def close(self) -> None:
        await self._inner.close()
