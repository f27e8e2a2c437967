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


@dataclass
class _Turns:
    """Per clientId, in this process: who is authenticating, and how many of them have failed so far."""

    lock: asyncio.Lock
    users: int = 0
    failures: int = 0


class Attempt:
    def __init__(self, throttle: FailureThrottle, client_id: str, address: str | None, turns: _Turns) -> None:
        self._throttle = throttle
        self._client_id = client_id
        self._address = address
        self._turns = turns

    async def failed(self) -> None:
        self._turns.failures += 1
        await self._throttle.record_failure(self._client_id, self._address)


class FailureThrottle:
    def __init__(self, counter: FailureCounter, policy: ThrottlePolicy) -> None:
        self._counter = counter
        self._policy = policy
        self._turns: dict[str, _Turns] = {}

    @staticmethod
    def _keys(client_id: str, address: str | None) -> list[str]:
        keys = [client_key(client_id)]
        if address:
            keys.append("address:" + address)
        return keys

    @asynccontextmanager
    async def attempt(self, client_id: str, address: str | None) -> AsyncIterator[Attempt]:
        """Refuses (TooManyAttempts) past a limit; otherwise the caller verifies, calling failed() on failure.

        The counters are read concurrently, then the verifications of one clientId take turns, and each
        turn also counts the failures other turns recorded since its read: a burst of concurrent guesses
        cannot all pass before the first failure is counted. Successes are quick, so turns are short.
        """
        key = client_key(client_id)
        turns = self._turns.get(key)
        if turns is None:
            turns = self._turns[key] = _Turns(asyncio.Lock())
        turns.users += 1
        seen = turns.failures
        try:
            counts = list(await self._counter.recent_failures(self._keys(client_id, address)))
            async with turns.lock:
                since = turns.failures - seen  # possibly counted twice: errs on the side of refusing
                counts = [count + since for count in counts]
                limits = (self._policy.client_failures, self._policy.address_failures)
                if any(count >= limit for count, limit in zip(counts, limits, strict=False)):
                    raise TooManyAttempts(self._policy.window_seconds)
                yield Attempt(self, client_id, address, turns)
        finally:
            turns.users -= 1
            if turns.users == 0:
                del self._turns[key]

    async def check(self, client_id: str, address: str | None) -> None:
        """Raises TooManyAttempts when the clientId or the address is over its limit."""
        async with self.attempt(client_id, address):
            pass

    async def record_failure(self, client_id: str, address: str | None) -> None:
        await self._counter.record_failure(self._keys(client_id, address))
