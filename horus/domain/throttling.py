"""Brute-force protection: failed authentications counted per clientId and per source address.

Past a limit, further attempts are refused before any secret is verified, so an attacker's
guessing rate against one clientId is held to the limit whatever else it sends.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from horus.domain.client import is_registrable_client_id
from horus.domain.errors import TooManyAttempts
from horus.ports.throttling import FailureCounter


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    client_failures: int = 10
    address_failures: int = 100
    window_seconds: int = 60


def client_key(client_id: str) -> str:
    """Ids no client can have (any text, NUL included) are counted under a digest: bounded and storable."""
    if is_registrable_client_id(client_id):
        return "client:" + client_id
    return "client#" + hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class FailureThrottle:
    def __init__(self, counter: FailureCounter, policy: ThrottlePolicy) -> None:
        self._counter = counter
        self._policy = policy
        # clientId key -> [lock, users]; entries exist only while someone authenticates as that id.
        self._turns: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @staticmethod
    def _keys(client_id: str, address: str | None) -> list[str]:
        keys = [client_key(client_id)]
        if address:
            keys.append("address:" + address)
        return keys

    @asynccontextmanager
    async def one_at_a_time(self, client_id: str) -> AsyncIterator[None]:
        """Attempts for one clientId take turns in this process: a burst of concurrent guesses cannot all
        read the counter before any failure is written. Legitimate bursts only queue for microseconds,
        since a success is quick (the hash is cheap or its success remembered)."""
        key = client_key(client_id)
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = (asyncio.Lock(), [0])
        lock, users = turn
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._turns[key]

    async def check(self, client_id: str, address: str | None) -> None:
        """Raises TooManyAttempts when the clientId or the address is over its limit."""
        counts = await self._counter.recent_failures(self._keys(client_id, address))
        limits = (self._policy.client_failures, self._policy.address_failures)
        if any(count >= limit for count, limit in zip(counts, limits, strict=False)):
            raise TooManyAttempts(self._policy.window_seconds)

    async def record_failure(self, client_id: str, address: str | None) -> None:
        await self._counter.record_failure(self._keys(client_id, address))
