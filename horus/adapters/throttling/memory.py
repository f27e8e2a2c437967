"""Admission counted in this process's memory: exact for one process, with no storage round trip.

Each key counts its failures over a sliding window, approximated from two fixed windows (the
previous one weighted by how much of it still overlaps), and the attempts in flight whose
outcome is not known yet. An attempt is admitted while, for every key, failures plus attempts
in flight stay under the limit; the check and the reservation happen with no await between
them, so no burst can slip past it. Once the failures alone reach a limit, attempts are
refused. In between (the attempts in flight might still reach it), an attempt waits for one of
them to end: successes go on, and a burst of guesses is verified no faster than it is counted.

Only keys with failures are kept past their attempts; past `max_keys`, the keys that failed
least recently are forgotten, so no choice of ids can grow memory without bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from horus.adapters.throttling.wake_ups import WakeUps
from horus.adapters.throttling.windows import sliding_estimate, window_number
from horus.domain.errors import TooManyAttempts
from horus.domain.throttling import ThrottleKey
from horus.ports.throttling import Admission

DEFAULT_MAX_KEYS = 100_000


class MemoryAdmission(Admission):
    def __init__(
        self, window_seconds: float, max_keys: int = DEFAULT_MAX_KEYS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        # key -> [window number, failures in it, failures in the window before]; least recently failed first
        self._failures: OrderedDict[str, list[int]] = OrderedDict()
        self._in_flight: dict[str, int] = {}
        self._wake_ups = WakeUps()

    def attempt(self, keys: Sequence[ThrottleKey]) -> MemoryAttempt:
        return MemoryAttempt(self, keys)

    def _recent(self, name: str, now: float) -> float:
        counts = self._failures.get(name)
        if counts is None:
            return 0.0
        window, current, previous = counts
        return sliding_estimate({window: current, window - 1: previous}, now, self._window)

    def _admit(self, keys: Sequence[ThrottleKey]) -> bool:
        """True when admitted (its places taken); False when the attempts in flight might reach a limit."""
        in_flight = self._in_flight
        room = True
        now = self._clock() if self._failures else 0.0
        for name, limit in keys:
            failures = self._recent(name, now) if self._failures else 0.0
            if failures >= limit:
                raise TooManyAttempts(int(self._window))
            room = room and failures + in_flight.get(name, 0) < limit
        if room:
            for name, _ in keys:
                in_flight[name] = in_flight.get(name, 0) + 1
        return room

    def _record_failure(self, keys: Sequence[ThrottleKey]) -> None:
        number = window_number(self._clock(), self._window)
        failures = self._failures
        for name, _ in keys:
            counts = failures.get(name)
            if counts is None or counts[0] < number - 1:
                failures[name] = [number, 1, 0]
            elif counts[0] == number - 1:
                failures[name] = [number, 1, counts[1]]
            else:
                counts[1] += 1
            failures.move_to_end(name)
        while len(failures) > self._max_keys:
            failures.popitem(last=False)

    def _release(self, keys: Sequence[ThrottleKey]) -> None:
        in_flight = self._in_flight
        for name, _ in keys:
            left = in_flight[name] - 1
            if left:
                in_flight[name] = left
            else:
                del in_flight[name]
        if self._wake_ups:
            self._wake_ups.wake([name for name, _ in keys])


class MemoryAttempt:
    """One attempt: `async with` admits it (or refuses, or waits); failed() counts it; leaving ends it."""

    __slots__ = ("_admission", "_admitted", "_keys")

    def __init__(self, admission: MemoryAdmission, keys: Sequence[ThrottleKey]) -> None:
        self._admission = admission
        self._keys = keys
        self._admitted = False

    async def __aenter__(self) -> MemoryAttempt:
        admission = self._admission
        while not admission._admit(self._keys):
            await admission._wake_ups.wait([name for name, _ in self._keys])
        self._admitted = True
        return self

    async def failed(self) -> None:
        if self._admitted:
            self._admission._record_failure(self._keys)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._admitted:
            self._admitted = False
            self._admission._release(self._keys)
