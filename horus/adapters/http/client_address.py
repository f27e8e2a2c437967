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
        return any(ip in network for network in self.networks), str(ip)


NO_PROXIES = TrustedProxies()


def client_address(scope: Any, proxies: TrustedProxies) -> str | None:
    client = scope.get("client")
    peer: str | None = client[0] if client else None
    if peer is None or not proxies.networks or not proxies.trusts(peer):
        return peer
    forwarded = b",".join(value for name, value in scope["headers"] if name == b"x-forwarded-for")
    if not forwarded:
        return peer
    hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",") if hop.strip()][-MAX_FORWARDED_HOPS:]
    # The right-most address that is not one of our proxies is the one nobody could forge.
    for hop in reversed(hops):
        trusted, canonical = proxies.facts(hop)
        if not trusted:
            return peer if canonical is None else canonical
    return hops[0] if hops else peer
