"""deliver agent → subscriber: refuse callback URLs that would reach the pipeline's own network.

A subscriber chooses its URL, so without this guard it could make the pipeline call loopback
services, the private network or the cloud metadata endpoint (SSRF). The URL's syntax is checked
when a subscription is stored (by `pipeline.http.urls`, as here); `check_literal_destination` runs
before each delivery (syntax, and a host written as an address); a host name is checked where it
is connected to, by `guarded_resolver.GuardedResolver`, so the addresses checked are the addresses
used — a second lookup (DNS rebinding) has nothing to swap. `check_destination` resolves and
checks in one go. With `allow_private` on (local development, tests) only the syntax is checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence

from pipeline.delivery.errors import DestinationRefusedError
from pipeline.http.urls import URLSyntaxError, callback_host

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Awaitable[Sequence[str]]]
"""host → the IP addresses it resolves to (as strings)."""

_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# Carrier-grade NAT space is neither "private" nor "global" to the ipaddress module.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# The NAT64 well-known prefix embeds an IPv4 address that a NAT64 gateway would then reach.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# What inet_aton may read as an IPv4 address: decimal, octal and hex parts, 1 to 4 of them.
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)


async def check_destination(
    url: str, *, allow_private: bool, resolver: Resolver | None = None
) -> None:
    """Refuse `url` unless every address its host resolves to is publicly routable."""
    host = _parse(url)
    if allow_private:
        return
    refuse_blocked(host, await _addresses(host, resolver or _system_resolver))


def check_literal_destination(url: str, *, allow_private: bool) -> None:
    """Refuse a bad URL, or a host written as a non-public address; names are left to connect time.

    Legacy numeric spellings (`2130706433`, `0x7f.1`, `127.1`) are read as the address the C
    library would make of them, so that they are refused for that address.
    """
    host = _parse(url)
    if allow_private:
        return
    address = _ip(host) or _legacy_ipv4(host)
    if address is not None:
        refuse_blocked(host, [address])


def refuse_blocked(host: str, addresses: Sequence[Address]) -> None:
    """Raise `DestinationRefusedError` unless every one of `addresses` is publicly routable."""
    for address in addresses:
        reason = _blocked_reason(address)
        if reason is not None:
            raise DestinationRefusedError(reason, f"host {host!r} resolves to {address}")


def parse_address(text: str) -> Address | None:
    """An address as a resolver returns it (IPv6 perhaps with a `%scope`), or None."""
    return _ip(text)


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    if not _LEGACY_IPV4.match(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _parse(url: str) -> str:
    # The same reading as the admin API's, by yarl: the host checked is the host connected to.
    try:
        return callback_host(url)
    except URLSyntaxError as exc:
        raise DestinationRefusedError(exc.reason, str(exc)) from None


async def _addresses(host: str, resolver: Resolver) -> list[Address]:
    literal = _ip(host)
    if literal is not None:
        return [literal]
    try:
        resolved = await resolver(host)
    except (OSError, UnicodeError):
        raise DestinationRefusedError(
            "unresolvable_host", f"host {host!r} does not resolve"
        ) from None
    addresses = [address for address in map(_ip, resolved) if address is not None]
    if not addresses:
        raise DestinationRefusedError("unresolvable_host", f"host {host!r} has no IP address")
    return addresses


def _ip(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _unwrap(address: Address) -> Address:
    """The IPv4 address an IPv6 address stands for, if it embeds one that routing would reach."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    # Scope ids (`fe80::1%eth0`) would make the metadata set lookup miss.
    return ipaddress.IPv6Address(address.packed)


def _blocked_reason(address: Address) -> str | None:
    """Why `address` may not be delivered to, or None if it is publicly routable."""
    ip = _unwrap(address)
    checks: tuple[tuple[bool, str], ...] = (
        (ip in _METADATA, "metadata_address"),
        (ip.is_loopback, "loopback_address"),
        (ip.is_link_local, "link_local_address"),
        (ip.is_unspecified, "unspecified_address"),
        (ip.is_multicast, "multicast_address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED, "private_address"),
        (ip.is_private, "private_address"),
        (ip.is_reserved, "reserved_address"),
        # Anything else the registry does not call global (documentation, benchmarking ranges).
        (not ip.is_global, "reserved_address"),
    )
    return next((reason for blocked, reason in checks if blocked), None)


async def _system_resolver(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
