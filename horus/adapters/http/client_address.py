"""The caller's network address: the socket peer, or X-Forwarded-For when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_FORWARDED_HOPS = 16


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


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(scope: Any, trusted_proxies: tuple[Network, ...]) -> str | None:
    client = scope.get("client")
    peer: str | None = client[0] if client else None
    if peer is None or not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    forwarded = b",".join(value for name, value in scope["headers"] if name == b"x-forwarded-for")
    hops = [hop.strip() for hop in forwarded.decode("latin-1").split(",") if hop.strip()][-MAX_FORWARDED_HOPS:]
    # The right-most address that is not one of our proxies is the one nobody could forge.
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer
