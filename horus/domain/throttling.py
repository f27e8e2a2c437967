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


class _WakeQueue(collections.deque["asyncio.Future[None]"]):
    """Waiters woken one at a time, in order; one woken and then cancelled passes its wake-up on."""

    __slots__ = ()

    async def wait(self, front: bool = False) -> None:
        waiter = asyncio.get_running_loop().create_future()
        if front:
            self.appendleft(waiter)
        else:
            self.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.wake_one()
            elif waiter in self:  # a wake-up may have dropped it already
                self.remove(waiter)
            raise

    def wake_one(self) -> None:
        while self:
            waiter = self.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


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
        self._waiters = _WakeQueue()

    async def take(self) -> None:
        while self.held:
            await self._waiters.wait()
        self.held = True

    def give_back(self) -> None:
        self.held = False
        if self._waiters:
            self._waiters.wake_one()


class _AddressLoad:
    """Per source address, in this process: attempts past their checks and not yet finished, and failures so far.

    Attempts for many clientIds from one address take no turns among themselves, so without a cap a burst
    spread over many clientIds would all pass the address check before the first failure is counted. At
    most (limit - failures known) attempts of an address are verified at once; the others wait for a slot,
    first come first served, and are refused if the failures of those before them reach the limit. A slot
    is held for one verification: microseconds for a generated secret, an argon2id computation at worst.
    """

    __slots__ = ("_waiters", "failures", "in_flight", "users")

    def __init__(self) -> None:
        self.users = 0
        self.failures = 0
        self.in_flight = 0
        self._waiters: _WakeQueue | None = None  # made by the first to wait: most loads never see one

    def waiting(self) -> bool:
        return bool(self._waiters)

    async def wait_for_slot(self, again: bool = False) -> None:
        if self._waiters is None:
            self._waiters = _WakeQueue()
        await self._waiters.wait(front=again)

    def wake_one(self) -> None:
        if self._waiters:
            self._waiters.wake_one()


class Attempt:
    """`async with throttle.attempt(...) as attempt`: a turn among this clientId's attempts in this process.

    A class rather than @asynccontextmanager (~3 us a request), and its own context object."""

    __slots__ = ("_address", "_client_id", "_key", "_load", "_locked", "_slot", "_throttle", "_turns")

    def __init__(self, throttle: FailureThrottle, client_id: str, address: str | None) -> None:
        self._throttle = throttle
        self._client_id = client_id
        self._address = address
        self._key = client_key(client_id)
        self._turns: _Turns | None = None
        self._locked = False
        self._load: _AddressLoad | None = None
        self._slot = False

    async def failed(self) -> None:
        # Counted here only once the write has ended: a turn that read the storage before the write then
        # counts it as "since" (at worst twice, refusing), never as neither. Counted even when the write
        # failed (storage down, a timeout): the guess was made, and a lost count must not free a slot.
        try:
            await self._throttle._counter.record_failure(_counter_keys(self._key, self._address))
        finally:
            if self._turns is not None:
                self._turns.failures += 1
            if self._load is not None:
                self._load.failures += 1

    async def __aenter__(self) -> Attempt:
        throttle = self._throttle
        turns = throttle._turns.get(self._key)
        if turns is None:
            turns = throttle._turns[self._key] = _Turns()
        turns.users += 1
        self._turns = turns
        seen = turns.failures
        load = None
        if self._address:  # as _counter_keys has it: counts[1] is the address's
            load = throttle._loads.get(self._address)
            if load is None:
                load = throttle._loads[self._address] = _AddressLoad()
            load.users += 1
            self._load = load
        seen_at_address = load.failures if load is not None else 0
        try:
            counts = await throttle._counter.recent_failures(_counter_keys(self._key, self._address))
            if turns.held:
                await turns.take()
            else:
                turns.held = True  # what take() does when the turn is free, without a coroutine
            self._locked = True
            since = turns.failures - seen  # possibly counted twice: errs on the side of refusing
            policy = throttle._policy
            # The usual case, nothing failed lately, has no limit to compare.
            if (since or any(counts)) and (
                counts[0] + since >= policy.client_failures
                or (len(counts) > 1 and counts[1] + since >= policy.address_failures)
            ):
                raise TooManyAttempts(policy.window_seconds)
            if load is not None:
                stored_before = counts[1] - seen_at_address
                if not load._waiters and stored_before + load.failures + load.in_flight < policy.address_failures:
                    load.in_flight += 1  # the usual case, a free slot: taken without a coroutine
                    self._slot = True
                else:
                    await self._take_slot(load, stored_before, policy)
        except BaseException:
            self._leave()
            raise
        return self

    async def _take_slot(self, load: _AddressLoad, stored_before: float, policy: ThrottlePolicy) -> None:
        """`stored_before + load.failures`: the address's failures as read, plus those counted here since."""
        limit = policy.address_failures
        woken = False
        try:
            while True:
                known = stored_before + load.failures
                if known >= limit:
                    raise TooManyAttempts(policy.window_seconds)
                # A free slot goes to those already waiting first: arrivals queue behind them. (An arrival in the
                # loop turn between a wake-up and the woken waiter's run can still take it; that waiter then
                # waits again at the front.)
                if known + load.in_flight < limit and (woken or not load.waiting()):
                    break
                await load.wait_for_slot(again=woken)  # woken for nothing: back to the front
                woken = True
        except TooManyAttempts:
            if woken:
                load.wake_one()  # the slot that woke this attempt is still free
            raise
        load.in_flight += 1
        self._slot = True

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
        load = self._load
        if load is not None:
            self._load = None
            if self._slot:
                self._slot = False
                load.in_flight -= 1
                if load._waiters:  # no method call per request when no one waits
                    load.wake_one()
            load.users -= 1
            if not load.users:
                del self._throttle._loads[self._address]  # type: ignore[arg-type]


class FailureThrottle:
    def __init__(self, counter: FailureCounter, policy: ThrottlePolicy) -> None:
        self._counter = counter
        self._policy = policy
        self._turns: dict[str, _Turns] = {}
        self._loads: dict[str, _AddressLoad] = {}

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
