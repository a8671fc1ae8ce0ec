from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipeline.delivery.destinations import check_destination, check_literal_destination
from pipeline.delivery.errors import DeliveryError, DestinationRefusedError


class FakeResolver:
    """Answers from a table; an unknown host fails as a real lookup would. Records every lookup."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(-2, "Name or service not known")
        return self.table[host]


async def refusal(url: str, addresses: list[str] | None = None) -> str:
    resolver = FakeResolver({"hook.example": addresses or []})
    with pytest.raises(DestinationRefusedError) as caught:
        await check_destination(url, allow_private=False, resolver=resolver)
    return caught.value.reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback_address"),
        ("127.8.9.10", "loopback_address"),
        ("::1", "loopback_address"),
        ("10.1.2.3", "private_address"),
        ("172.16.0.1", "private_address"),
        ("172.31.255.254", "private_address"),
        ("192.168.1.1", "private_address"),
        ("fc00::1", "private_address"),
        ("fd12:3456::1", "private_address"),
        ("100.64.0.1", "private_address"),
        ("100.127.255.254", "private_address"),
        ("169.254.1.1", "link_local_address"),
        ("fe80::1", "link_local_address"),
        ("fe80::1%eth0", "link_local_address"),
        ("169.254.169.254", "metadata_address"),
        ("fd00:ec2::254", "metadata_address"),
        ("0.0.0.0", "unspecified_address"),  # noqa: S104 - the address under test
        ("::", "unspecified_address"),
        ("224.0.0.1", "multicast_address"),
        ("ff02::1", "multicast_address"),
        ("240.0.0.1", "private_address"),
        ("192.0.2.10", "private_address"),
        ("::ffff:127.0.0.1", "loopback_address"),
        ("::ffff:10.0.0.1", "private_address"),
        ("::ffff:169.254.169.254", "metadata_address"),
        ("64:ff9b::a9fe:a9fe", "metadata_address"),
        ("2002:0a00:0001::1", "private_address"),
    ],
)
async def test_resolved_address_classes_are_refused(address: str, reason: str) -> None:
    assert await refusal("https://hook.example/in", [address]) == reason


async def test_public_addresses_pass() -> None:
    resolver = FakeResolver({"hook.example": ["93.184.215.14", "2606:4700::1111"]})
    await check_destination("https://hook.example/in?t=1", allow_private=False, resolver=resolver)
    assert resolver.asked == ["hook.example"]


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    assert await refusal("https://hook.example/", ["93.184.215.14", "10.0.0.5"]) == (
        "private_address"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback_address"),
        ("http://[::1]/hook", "loopback_address"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data", "metadata_address"),
        ("http://169.254.169.254/latest/meta-data", "metadata_address"),
        ("https://[fd00:ec2::254]/", "metadata_address"),
    ],
)
async def test_ip_literals_are_checked_without_a_lookup(url: str, reason: str) -> None:
    resolver = FakeResolver({})
    with pytest.raises(DestinationRefusedError) as caught:
        await check_destination(url, allow_private=False, resolver=resolver)
    assert caught.value.reason == reason
    assert resolver.asked == []


async def test_unresolvable_host_is_refused() -> None:
    resolver = FakeResolver({"empty.example": []})
    for url in ("https://missing.example/", "https://empty.example/"):
        with pytest.raises(DestinationRefusedError) as caught:
            await check_destination(url, allow_private=False, resolver=resolver)
        assert caught.value.reason == "unresolvable_host"


async def test_allow_private_skips_the_address_check_but_not_the_syntax() -> None:
    resolver = FakeResolver({"hook.example": ["10.0.0.1"]})
    await check_destination("http://hook.example/", allow_private=True, resolver=resolver)
    await check_destination("http://127.0.0.1:9/", allow_private=True, resolver=resolver)
    assert resolver.asked == []
    with pytest.raises(DestinationRefusedError) as caught:
        await check_destination("ftp://hook.example/", allow_private=True, resolver=resolver)
    assert caught.value.reason == "unsupported_scheme"


async def test_default_resolver_sees_through_numeric_host_spellings() -> None:
    # 2130706433 is 127.0.0.1 as one number; getaddrinfo decodes it without asking DNS.
    with pytest.raises(DestinationRefusedError) as caught:
        await check_destination("http://2130706433/", allow_private=False)
    assert caught.value.reason == "loopback_address"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hook.example/", "unsupported_scheme"),
        ("file:///etc/passwd", "unsupported_scheme"),
        ("hook.example/in", "unsupported_scheme"),
        ("http:///in", "invalid_url"),
        ("http://[::1/in", "invalid_url"),
        ("http://hook.example:99999/", "invalid_url"),
        ("https://user:hunter2@hook.example/", "credentials_in_url"),
        ("https://token@hook.example/", "credentials_in_url"),
    ],
)
def test_syntax_refusals(url: str, reason: str) -> None:
    with pytest.raises(DestinationRefusedError) as caught:
        check_literal_destination(url, allow_private=True)
    assert caught.value.reason == reason
    assert isinstance(caught.value, DeliveryError)
    assert caught.value.retriable is False
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["https://hook.example/in?token=abc", "HTTP://Hook.Example:8443/", "http://[2606:4700::1111]/"],
)
def test_valid_urls_pass_syntax_check(url: str) -> None:
    assert check_literal_destination(url, allow_private=False) is None
    scheme, rest = url.split("://", 1)
    with pytest.raises(DestinationRefusedError) as caught:  # the same URL, with credentials
        check_literal_destination(f"{scheme}://user:pw@{rest}", allow_private=False)
    assert caught.value.reason == "credentials_in_url"
