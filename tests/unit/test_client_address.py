"""The caller's address: the socket peer, or X-Forwarded-For behind a trusted proxy."""

from __future__ import annotations

from typing import Any

import pytest

from horus.adapters.http.client_address import MAX_REMEMBERED_ADDRESSES, TrustedProxies, client_address, parse_networks


def scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"client": (peer, 5555), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", "", "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", "10.0.0.0/8", "203.0.113.9"),
        ("10.0.0.2", "198.51.100.1", "10.0.0.0/8", "198.51.100.1"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.1, 10.0.0.7", "10.0.0.0/8", "198.51.100.1"),
        ("10.0.0.2", "garbage", "10.0.0.0/8", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.0/8", "10.0.0.2"),
        ("::1", "2001:db8::1", "::1", "2001:db8::/64"),  # an IPv6 source counts by its /64
        ("::1", "2001:DB8:0:0:ffff::1", "::1", "2001:db8::/64"),  # the same /64, another way of writing it
        ("2001:db8:0:1::7", None, "", "2001:db8:0:1::/64"),
        ("::ffff:192.0.2.1", None, "", "192.0.2.1"),  # IPv4 mapped into IPv6 counts as the IPv4 address
        ("10.0.0.2", "10.0.0.9, 10.0.0.7", "10.0.0.0/8", "10.0.0.9"),  # every hop is a proxy: the first counts
        ("10.0.0.2", "198.51.100.1, " + "9" * 60, "10.0.0.0/8", "10.0.0.2"),  # junk too long to remember
    ],
)
def test_the_client_address(peer: str, forwarded: str | None, trusted: str, expected: str) -> None:
    proxies = TrustedProxies(parse_networks(trusted))
    assert expected == client_address(scope(peer, forwarded), proxies)
    assert expected == client_address(scope(peer, forwarded), proxies)  # the second time from remembered answers


def test_remembered_proxy_answers_stay_bounded_and_right() -> None:
    proxies = TrustedProxies(parse_networks("10.0.0.0/8"))
    for index in range(MAX_REMEMBERED_ADDRESSES * 2):
        assert proxies.trusts(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}")
        assert not proxies.trusts(f"192.0.{index // 256 % 256}.{index % 256}")
    assert len(proxies._facts) <= MAX_REMEMBERED_ADDRESSES
    assert not proxies.trusts("10.0.0.1" + " " * 100)  # not an address, and too long to be remembered
    assert len(proxies._facts) <= MAX_REMEMBERED_ADDRESSES


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="not-an-ip"):
        parse_networks("10.0.0.0/8, not-an-ip")
