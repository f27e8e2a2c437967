"""Brute-force protection: failed authentications counted per clientId and per source address.

Past a limit, further attempts are refused before any secret is verified, so an attacker's
guessing rate against one clientId is held to the limit whatever else it sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from horus.domain.errors import TooManyAttempts
from horus.ports.throttling import FailureCounter


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    client_failures: int = 10
    address_failures: int = 100
    window_seconds: int = 60


class FailureThrottle:
    def __init__(self, counter: FailureCounter, policy: ThrottlePolicy) -> None:
        self._counter = counter
        self._policy = policy

    @staticmethod
    def _keys(client_id: str, address: str | None) -> list[str]:
        keys = ["client:" + client_id[:256]]
        if address:
            keys.append("address:" + address)
        return keys

    async def check(self, client_id: str, address: str | None) -> None:
        """Raises TooManyAttempts when the clientId or the address is over its limit."""
        counts = await self._counter.recent_failures(self._keys(client_id, address))
        limits = (self._policy.client_failures, self._policy.address_failures)
        if any(count >= limit for count, limit in zip(counts, limits, strict=False)):
            raise TooManyAttempts(self._policy.window_seconds)

    async def record_failure(self, client_id: str, address: str | None) -> None:
        await self._counter.record_failure(self._keys(client_id, address))
