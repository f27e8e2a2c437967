"""Brute-force protection, the rule: which failures count against which limit.

Failed authentications are counted per clientId at each source address, per clientId over
all addresses (a higher limit, so that one attacking address cannot lock a client's owner
out everywhere), and per source address. Past a limit, attempts are refused before any
secret is verified, so guessing is held to the limits whatever else an attacker sends.
How the counting is done (in memory, shared between processes) is the Admission port's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from horus.domain.client import is_registrable_client_id


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    client_failures: int = 10
    """Per clientId from one address."""
    client_global_failures: int = 100
    """Per clientId, all addresses together."""
    address_failures: int = 100
    """Per source address, all clientIds together."""
    window_seconds: int = 60

    def __post_init__(self) -> None:
        limits = (self.client_failures, self.client_global_failures, self.address_failures, self.window_seconds)
        if min(limits) < 1:
            raise ValueError("throttling limits and window must be at least 1")


ThrottleKey = tuple[str, int]
"""(the name failures are counted under, its limit). A plain tuple: several are made for every token request."""


def client_key(client_id: str) -> str:
    """Ids no client can have (secret-shaped text, any text, NUL included) count under a digest: bounded, storable,
    and never a secret written to storage."""
    if is_registrable_client_id(client_id):
        return "client:" + client_id
    return "client#" + hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def throttle_keys(policy: ThrottlePolicy, client_id: str, address: str | None) -> tuple[ThrottleKey, ...]:
    """What an attempt counts against. Without a known address, the clientId's own limit is its only one."""
    client = client_key(client_id)
    if not address:
        return ((client, policy.client_failures),)
    return (
        (f"{client}@{address}", policy.client_failures),
        (client, policy.client_global_failures),
        ("address:" + address, policy.address_failures),
    )
