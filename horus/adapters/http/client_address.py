"""The caller's network address: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_FORWARDED_HOPS = 16
MAX_REMEMBERED_ADDRESSES = 4096
MAX_ADDRESS_TEXT = 45  # the longest unscoped IPv6 text; longer text (junk, a zone id) is looked at but not remembered


def parse_networks(text: str) -> tuple[Network, ...]:
    """'10.0.0.0/8, 127.0.0.1' into networks; raises ValueError naming the bad entry."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


_NO_ADDRESS: tuple[bool, str | None] = (False, None)


class TrustedProxies:
    """The proxies whose X-Forwarded-For is believed. Parsing an address costs ~4-10 us of pure Python,
    and the same few peers and forwarded clients come again and again, so what each text says (trusted?
    which address, written canonically?) is remembered: a bounded table, cleared when full."""

    def __init__(self, networks: tuple[Network, ...] = ()) -> None:
        self.networks = networks
        self._facts: dict[str, tuple[bool, str | None]] = {}

    def facts(self, address: str) -> tuple[bool, str | None]:
        """(whether it is a trusted proxy, the address as ipaddress writes it or None when it is none)."""
        facts = self._facts.get(address)
        if facts is None:
            facts = self._look_up(address)
            if len(address) <= MAX_ADDRESS_TEXT:  # longer text is not remembered: it cannot crowd the table
                if len(self._facts) >= MAX_REMEMBERED_ADDRESSES:
                    self._facts.clear()
                self._facts[address] = facts
        return facts

    def trusts(self, address: str) -> bool:
        return self.facts(address)[0]

    def _look_up(self, address: str) -> tuple[bool, str | None]:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return _NO_ADDRESS
        return any(ip in network for network in self.networks), counted_address(ip)


def counted_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What a source address counts as: an IPv4 address as itself, an IPv6 one by its /64, the network one host is
    commonly given (its owner can send from 2**64 addresses), an IPv4-mapped one as the IPv4 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


NO_PROXIES = TrustedProxies()


def client_address(scope: Any, proxies: TrustedProxies) -> str | None:
    """The caller's address as the throttle counts it (counted_address): the socket's peer, or the address a trusted
    proxy forwarded."""
    client = scope.get("client")
    if not client:
        return None
    trusted, peer = proxies.facts(client[0])
    peer = peer or client[0]  # not an IP address (a Unix socket's path): counted as it is
    if not trusted:
        return peer
    forwarded = b",".join(value for name, value in scope["headers"] if name == b"x-forwarded-for")
    hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",") if hop.strip()][-MAX_FORWARDED_HOPS:]
    # The right-most address that is not one of our proxies is the one nobody could forge.
    for hop in reversed(hops):
        trusted, counted = proxies.facts(hop)
        if not trusted:
            return counted or peer
    first = proxies.facts(hops[0])[1] if hops else None  # every hop is one of our proxies: the first counts
    return first or peer
