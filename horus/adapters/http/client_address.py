"""The caller's network address: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_FORWARDED_HOPS = 16
MAX_REMEMBERED_ADDRESSES = 4096
MAX_ADDRESS_TEXT = 45  # the longest textual IPv6 address; longer text is no address and is not remembered


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


class TrustedProxies:
    """The proxies whose X-Forwarded-For is believed. Parsing an address costs ~10 us of pure Python,
    and the same few peers ask again and again, so answers are remembered (a bounded set, cleared when full)."""

    def __init__(self, networks: tuple[Network, ...] = ()) -> None:
        self.networks = networks
        self._answers: dict[str, bool] = {}

    def trusts(self, address: str) -> bool:
        answer = self._answers.get(address)
        if answer is None:
            if len(address) > MAX_ADDRESS_TEXT:
                return False
            if len(self._answers) >= MAX_REMEMBERED_ADDRESSES:
                self._answers.clear()
            answer = self._answers[address] = self._in_networks(address)
        return answer

    def _in_networks(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


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
        if not proxies.trusts(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer
