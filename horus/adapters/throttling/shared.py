"""Admission shared by processes through their database (`--workers N`, several instances on PostgreSQL).

The database holds, per key and fixed window, the failures and the attempts in flight. Each
process also knows, per key, the failures it has heard of: from its own writes, the database's
answers, and the feed of the other processes' failures. Two paths:

- Cold: no key of the attempt has a failure this process has heard of. The attempt is admitted
  without a storage round trip, one at a time per key in this process (the others wait for it);
  a success costs nothing more. A failure is written to the database, which answers with the
  counts: from then on the keys are hot here, and the feed tells the other processes.
- Hot: some key has failed lately. The attempt reserves its place in the database before it is
  verified (one atomic upsert that returns the counts, in the order the database serialises
  every process's attempts): refused when the failures have reached a limit; taken back to wait
  (for an attempt of this process on the same key to end, or a short while for other processes')
  when the attempts in flight might reach it; otherwise admitted, and ended by taking the
  reservation back, with a failure added if it failed.

So a burst of guesses passes a limit by at most one per other process: each process verifies at
most one cold guess per key before its own failure makes the key hot there (the feed usually
tells it sooner). A process that dies mid-attempt leaves its reservation counted until the window
ends; an attempt never waits more than MAX_WAIT_SECONDS, then it is refused.
"""

from __future__ import annotations

import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from horus.adapters.throttling.wake_ups import WakeUps
from horus.adapters.throttling.windows import sliding_estimate, window_number
from horus.domain.errors import StorageUnavailable, TooManyAttempts
from horus.domain.throttling import ThrottleKey
from horus.ports.throttling import Admission

LOG = logging.getLogger("horus.throttling")
REMOTE_WAIT_SECONDS = (0.01, 0.2)
"""How long an attempt that waits for other processes' attempts to end sleeps before asking again: the first
time, and at most after doubling each time (with jitter), so that a burst of waiters does not flood the database."""
MAX_WAIT_SECONDS = 2.0
"""An attempt that has waited this long is refused: the attempts it waits for may never end (their process died,
or their end could not be written), and their reservations count until the window ends."""
MAX_KNOWN_KEYS = 100_000
Counts = tuple[int, int, int]
"""(failures in the window, attempts in flight in the window, failures in the window before)."""


class SharedCounters(Protocol):
    """What the SQL storages offer: counts per (key, fixed window), changed atomically."""

    async def reserve_attempt(self, keys: Sequence[str], window: int) -> Sequence[Counts]:
        """One more attempt in flight for each key in `window`; per key in order, the counts after it."""
        ...

    async def attempt_counts(self, keys: Sequence[str], window: int) -> Sequence[Counts]:
        """The same counts, read without reserving."""
        ...

    async def end_attempt(self, keys: Sequence[str], window: int, failed: bool) -> None:
        """One attempt fewer in flight in `window`, and one more failure if it failed."""
        ...

    async def record_failure(self, keys: Sequence[str], window: int) -> Sequence[Counts]:
        """One more failure for each key in `window` (an attempt that reserved nothing); the counts after it."""
        ...


class _Heard:
    """The failures of one key this process has heard of, in two fixed windows."""

    __slots__ = ("current", "previous", "window")

    def __init__(self) -> None:
        self.window = 0
        self.current = 0
        self.previous = 0

    def hear(self, window: int, failures: int, previous: int) -> None:
        if window > self.window:
            self.previous = self.current if window == self.window + 1 else 0
            self.window, self.current = window, 0
        if window == self.window:
            self.current = max(self.current, failures)
            self.previous = max(self.previous, previous)
        elif window == self.window - 1:
            self.previous = max(self.previous, failures)

    def recent(self, now: float, window_seconds: float) -> float:
        return sliding_estimate({self.window: self.current, self.window - 1: self.previous}, now, window_seconds)


class SharedAdmission(Admission):
    def __init__(
        self,
        counters: SharedCounters,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
        max_known_keys: int = MAX_KNOWN_KEYS,
    ) -> None:
        self._counters = counters
        self._window = window_seconds
        self._clock = clock
        self._max_wait = max_wait_seconds
        self._max_known = max_known_keys
        self._heard: OrderedDict[str, _Heard] = OrderedDict()
        self._cold_in_flight: set[str] = set()
        self._wake_ups = WakeUps()

    def attempt(self, keys: Sequence[ThrottleKey]) -> SharedAttempt:
        return SharedAttempt(self, sorted(keys))  # every process locks rows in one order

    def hear_failures(self, key: str, window: int, failures: int, previous: int = 0) -> None:
        """What the feed (or the database's answer) says: `key` has `failures` in `window`."""
        heard = self._heard.get(key)
        if heard is None:
            heard = self._heard[key] = _Heard()
            if len(self._heard) > self._max_known:
                self._heard.popitem(last=False)
        else:
            self._heard.move_to_end(key)
        heard.hear(window, failures, previous)

    def _is_cold(self, names: Sequence[str], now: float) -> bool:
        for name in names:
            heard = self._heard.get(name)
            if heard is not None and heard.recent(now, self._window) > 0:
                return False
        return True

    async def _admit(self, keys: Sequence[ThrottleKey], names: list[str]) -> int | None:
        """None: admitted on the cold path (this process's places taken). Otherwise the window of a reservation."""
        give_up_at = time.monotonic() + self._max_wait
        reserve = True
        pause, longest_pause = REMOTE_WAIT_SECONDS
        while True:
            now = self._clock()
            if self._is_cold(names, now):
                if not self._cold_in_flight.intersection(names):
                    self._cold_in_flight.update(names)
                    return None
                await self._wake_ups.wait(names)  # a cold attempt on a key of ours is in flight here
                continue
            window = window_number(now, self._window)
            counts = await (self._counters.reserve_attempt if reserve else self._counters.attempt_counts)(names, window)
            room = True
            for (name, limit), (failures, in_flight, previous) in zip(keys, counts, strict=True):
                # What this process has heard includes the database's answer, and failures it could not write.
                self.hear_failures(name, window, failures, previous)
                recent = self._heard[name].recent(now, self._window)
                if recent >= limit:
                    if reserve:
                        await self._end(names, window, failed=False)
                    raise TooManyAttempts(int(self._window))
                # A reservation counts itself; a read counts the place it would take.
                room = room and recent + in_flight + (0 if reserve else 1) <= limit
            if room and reserve:
                return window
            if reserve:
                await self._end(names, window, failed=False)
            reserve = room  # waiters ask with reads until one shows a place: reservations would keep others out
            if not room:
                if time.monotonic() >= give_up_at:
                    raise TooManyAttempts(int(self._window))
                await self._wake_ups.wait(names, at_most=pause * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
                pause = min(pause * 2, longest_pause)

    async def _end(self, names: list[str], window: int, failed: bool) -> None:
        try:
            await self._counters.end_attempt(names, window, failed)
        except StorageUnavailable:
            if failed:
                raise  # the request fails closed; the reservation stays counted until the window ends
            LOG.warning("a throttling reservation could not be taken back: storage unavailable")
        finally:
            self._wake_ups.wake(names)

    async def _end_cold(self, keys: Sequence[ThrottleKey], names: list[str], failed: bool) -> None:
        try:
            if failed:
                window = window_number(self._clock(), self._window)
                try:
                    counts = await self._counters.record_failure(names, window)
                except StorageUnavailable:
                    for name in names:  # counted here at least: the next attempts take the hot path
                        self.hear_failures(name, window, 1)
                    raise
                for (name, _), (failures, _, previous) in zip(keys, counts, strict=True):
                    self.hear_failures(name, window, failures, previous)
        finally:
            # Only now: until its failure is heard of, another cold attempt on these keys would not know of it.
            self._cold_in_flight.difference_update(names)
            self._wake_ups.wake(names)


class SharedAttempt:
    __slots__ = ("_admission", "_entered", "_failed", "_keys", "_names", "_window")

    def __init__(self, admission: SharedAdmission, keys: Sequence[ThrottleKey]) -> None:
        self._admission = admission
        self._keys = keys
        self._names = [name for name, _ in keys]
        self._window: int | None = None
        self._entered = False
        self._failed = False

    async def __aenter__(self) -> SharedAttempt:
        self._window = await self._admission._admit(self._keys, self._names)
        self._entered = True
        return self

    async def failed(self) -> None:
        self._failed = True

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._entered:
            return
        self._entered = False
        if self._window is None:
            await self._admission._end_cold(self._keys, self._names, self._failed)
        else:
            await self._admission._end(self._names, self._window, self._failed)
