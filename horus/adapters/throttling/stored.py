"""Admission counted in the shared database, for processes that share one (`--workers N`, PostgreSQL).

The same rule as MemoryAdmission, with the counts in the database so that every process sees
every other's: per key and fixed window, the failures and the attempts in flight. An attempt
reserves its place before it is verified, with one atomic upsert that returns the counts, so
concurrent attempts of all processes are counted in the order the database serialises them:
  - failures at the limit: refused, the reservation taken back;
  - failures plus attempts in flight over the limit: the reservation is taken back and the
    attempt waits (for an attempt of this process on the same key to end, or a short while for
    those of other processes), then tries again;
  - otherwise admitted. It ends by taking its reservation back, and adding a failure if it failed.
A process that dies mid-attempt leaves its reservation counted until the window ends; an attempt
never waits more than MAX_WAIT_SECONDS, then it is refused.
"""

from __future__ import annotations

import logging
import random
import time
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


class SharedCounters(Protocol):
    """What the SQL storages offer: counts per (key, fixed window), changed atomically."""

    async def reserve_attempt(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        """One more attempt in flight for each key in `window`; per key in order, the counts after it:
        (failures in `window`, attempts in flight in `window`, failures in the window before)."""
        ...

    async def attempt_counts(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        """The same counts as reserve_attempt, read without reserving."""
        ...

    async def end_attempt(self, keys: Sequence[str], window: int, failed: bool) -> None:
        """One attempt fewer in flight in `window`, and one more failure if it failed."""
        ...


class StoredAdmission(Admission):
    def __init__(
        self,
        counters: SharedCounters,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
    ) -> None:
        self._counters = counters
        self._window = window_seconds
        self._clock = clock
        self._max_wait = max_wait_seconds
        self._wake_ups = WakeUps()

    def attempt(self, keys: Sequence[ThrottleKey]) -> StoredAttempt:
        return StoredAttempt(self, keys)

    async def _reserve(self, keys: Sequence[ThrottleKey], names: list[str]) -> int:
        """The window of the reservation made. An attempt that has to wait asks again with reads only, until they
        show a place: retries that reserved would each hold a place for a moment and keep one another out."""
        give_up_at = time.monotonic() + self._max_wait
        reserve = True
        pause, longest_pause = REMOTE_WAIT_SECONDS
        while True:
            now = self._clock()
            window = window_number(now, self._window)
            if reserve:
                counts = await self._counters.reserve_attempt(names, window)
            else:
                counts = await self._counters.attempt_counts(names, window)
            room = True
            for key, (failures, in_flight, previous) in zip(keys, counts, strict=True):
                recent = sliding_estimate({window: failures, window - 1: previous}, now, self._window)
                if recent >= key.limit:
                    if reserve:
                        await self._end(names, window, failed=False)
                    raise TooManyAttempts(int(self._window))
                # A reservation counts itself; a read counts the place it would take.
                room = room and recent + in_flight + (0 if reserve else 1) <= key.limit
            if room and reserve:
                return window
            if reserve:
                await self._end(names, window, failed=False)
            reserve = room
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


class StoredAttempt:
    __slots__ = ("_admission", "_failed", "_keys", "_names", "_window")

    def __init__(self, admission: StoredAdmission, keys: Sequence[ThrottleKey]) -> None:
        self._admission = admission
        self._keys = keys
        self._names = sorted(key.name for key in keys)  # every process locks rows in the same order
        self._window: int | None = None
        self._failed = False

    async def __aenter__(self) -> StoredAttempt:
        keys = sorted(self._keys, key=lambda key: key.name)
        self._window = await self._admission._reserve(keys, self._names)
        return self

    async def failed(self) -> None:
        self._failed = True

    async def __aexit__(self, *exc_info: object) -> None:
        window, self._window = self._window, None
        if window is not None:
            await self._admission._end(self._names, window, self._failed)
