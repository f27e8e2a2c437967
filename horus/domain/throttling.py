"""Brute-force protection: failed authentications counted per clientId and per source address.

Past a limit, further attempts are refused before any secret is verified, so an attacker's
guessing rate against one clientId is held to the limit whatever else it sends.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
from dataclasses import dataclass

from horus.domain.client import is_registrable_client_id
from horus.domain.errors import TooManyAttempts
from horus.ports.throttling import FailureCounter


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    client_failures: int = 10
    address_failures: int = 100
    window_seconds: int = 60

    def __post_init__(self) -> None:
        # Attempt's fast path skips the comparison when nothing failed lately: a limit of 0 would not hold.
        if min(self.client_failures, self.address_failures, self.window_seconds) < 1:
            raise ValueError("throttling limits and window must be at least 1")


def client_key(client_id: str) -> str:
    """Ids no client can have (any text, NUL included) are counted under a digest: bounded and storable."""
    if is_registrable_client_id(client_id):
        return "client:" + client_id
    return "client#" + hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _counter_keys(client: str, address: str | None) -> list[str]:
    """`client` as client_key() makes it."""
    return [client, "address:" + address] if address else [client]


class _Turns:
    """Per clientId, in this process: who is authenticating, whose turn it is, and how many have failed so far.

    The turn is taken by whoever finds it free, not handed to the longest waiter as asyncio.Lock does:
    under steady load a FIFO hand-off turns one slow turn (a storage read) into a lasting convoy in
    which every request waits a loop round for its turn (measured: 33,000 of 39,000 turns waited).
    """

    __slots__ = ("_waiters", "failures", "held", "users")

    def __init__(self) -> None:
        self.users = 0
        self.failures = 0
        self.held = False
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def take(self) -> None:
        while self.held:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # woken, then cancelled: pass the wake-up on
                elif waiter in self._waiters:  # a wake-up may have dropped it already
                    self._waiters.remove(waiter)
                raise
        self.held = True

    def give_back(self) -> None:
        self.held = False
        if self._waiters:
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class Attempt:
    """`async with throttle.attempt(...) as attempt`: a turn among this clientId's attempts in this process.

    A class rather than @asynccontextmanager (~3 us a request), and its own context object."""

    __slots__ = ("_address", "_client_id", "_key", "_locked", "_throttle", "_turns")

    def __init__(self, throttle: FailureThrottle, client_id: str, address: str | None) -> None:
        self._throttle = throttle
        self._client_id = client_id
        self._address = address
        self._key = client_key(client_id)
        self._turns: _Turns | None = None
        self._locked = False

    async def failed(self) -> None:
        # Counted in the turn only once stored: a turn that read the storage before the write then counts
        # it as "since" (at worst twice, refusing), never as neither.
        await self._throttle._counter.record_failure(_counter_keys(self._key, self._address))
        if self._turns is not None:
            self._turns.failures += 1

    async def __aenter__(self) -> Attempt:
        throttle = self._throttle
        turns = throttle._turns.get(self._key)
        if turns is None:
            turns = throttle._turns[self._key] = _Turns()
        turns.users += 1
        self._turns = turns
        seen = turns.failures
        try:
            counts = await throttle._counter.recent_failures(_counter_keys(self._key, self._address))
            if turns.held:
                await turns.take()
            else:
                turns.held = True  # what take() does when the turn is free, without a coroutine
            self._locked = True
            since = turns.failures - seen  # possibly counted twice: errs on the side of refusing
            if since or any(counts):  # the usual case, nothing failed lately: no limit to compare
                policy = throttle._policy
                if counts[0] + since >= policy.client_failures or (
                    len(counts) > 1 and counts[1] + since >= policy.address_failures
                ):
                    raise TooManyAttempts(policy.window_seconds)
        except BaseException:
            self._leave()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._leave()

    def _leave(self) -> None:
        turns = self._turns
        if turns is None:
            return
        self._turns = None
        if self._locked:
            self._locked = False
            turns.give_back()
        turns.users -= 1
        if not turns.users:
            del self._throttle._turns[self._key]


class FailureThrottle:
    def __init__(self, counter: FailureCounter, policy: ThrottlePolicy) -> None:
        self._counter = counter
        self._policy = policy
        self._turns: dict[str, _Turns] = {}

    def attempt(self, client_id: str, address: str | None) -> Attempt:
        """Refuses (TooManyAttempts) past a limit; otherwise the caller verifies, calling failed() on failure.

        The counters are read concurrently, then the verifications of one clientId take turns, and each
        turn also counts the failures other turns recorded since its read: a burst of concurrent guesses
        cannot all pass before the first failure is counted. Successes are quick, so turns are short.
        """
        return Attempt(self, client_id, address)

    async def check(self, client_id: str, address: str | None) -> None:
        """Raises TooManyAttempts when the clientId or the address is over its limit."""
        async with self.attempt(client_id, address):
            pass

    async def record_failure(self, client_id: str, address: str | None) -> None:
        await self._counter.record_failure(_counter_keys(client_key(client_id), address))
