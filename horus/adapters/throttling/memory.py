"""Admission counted in this process's memory: exact for one process, with no storage round trip.

Each key counts its failures over a sliding window, approximated from two fixed windows (the
previous one weighted by how much of it still overlaps), and the attempts in flight whose
outcome is not known yet. An attempt is admitted while, for every key, failures plus attempts
in flight stay under the limit; the check and the reservation happen with no await between
them, so no burst can slip past it. Once the failures alone reach a limit, attempts are
refused. In between (the attempts in flight might still reach it), an attempt waits for one of
them to end: successes go on, and a burst of guesses is verified no faster than it is counted.

Keys with no failure and nothing in flight are not kept; past `max_keys`, the keys used least
recently are forgotten, so no choice of ids can grow memory without bound.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from horus.adapters.throttling.wake_ups import WakeUps
from horus.adapters.throttling.windows import sliding_estimate, window_number
from horus.domain.errors import TooManyAttempts
from horus.domain.throttling import ThrottleKey
from horus.ports.throttling import Admission

DEFAULT_MAX_KEYS = 100_000


class _KeyState:
    __slots__ = ("current", "in_flight", "previous", "window")

    def __init__(self) -> None:
        self.window = 0
        self.current = 0
        self.previous = 0
        self.in_flight = 0

    def failures(self, now: float, window_seconds: float) -> float:
        if not (self.current or self.previous):
            return 0.0
        return sliding_estimate({self.window: self.current, self.window - 1: self.previous}, now, window_seconds)

    def add_failure(self, number: int) -> None:
        if self.window == number:
            self.current += 1
        elif self.window == number - 1:
            self.window, self.previous, self.current = number, self.current, 1
        else:
            self.window, self.previous, self.current = number, 0, 1


class MemoryAdmission(Admission):
    def __init__(
        self, window_seconds: float, max_keys: int = DEFAULT_MAX_KEYS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        self._states: OrderedDict[str, _KeyState] = OrderedDict()
        self._wake_ups = WakeUps()

    def attempt(self, keys: Sequence[ThrottleKey]) -> MemoryAttempt:
        return MemoryAttempt(self, keys)

    def _states_of(self, keys: Sequence[ThrottleKey]) -> list[_KeyState]:
        states = []
        for key in keys:
            state = self._states.get(key.name)
            if state is None:
                state = self._states[key.name] = _KeyState()
            states.append(state)
        return states

    def _admit(self, keys: Sequence[ThrottleKey]) -> list[_KeyState] | None:
        """The reserved states; None when the attempts in flight might reach a limit (wait and ask again)."""
        now = self._clock()
        states = self._states_of(keys)
        room = True
        for key, state in zip(keys, states, strict=True):
            failures = state.failures(now, self._window)
            if failures >= key.limit:
                self._forget_idle(keys, states)
                raise TooManyAttempts(int(self._window))
            room = room and failures + state.in_flight < key.limit
        if not room:
            return None
        for state in states:
            state.in_flight += 1
        return states

    async def _wait(self, keys: Sequence[ThrottleKey]) -> None:
        try:
            await self._wake_ups.wait([key.name for key in keys])
        finally:
            self._forget_idle(keys, self._states_of(keys))

    def _record_failure(self, states: Sequence[_KeyState]) -> None:
        number = window_number(self._clock(), self._window)
        for state in states:
            state.add_failure(number)

    def _release(self, keys: Sequence[ThrottleKey], states: Sequence[_KeyState]) -> None:
        for state in states:
            state.in_flight -= 1
        self._wake_ups.wake([key.name for key in keys])
        self._forget_idle(keys, states)
        self._bound()

    def _forget_idle(self, keys: Sequence[ThrottleKey], states: Sequence[_KeyState]) -> None:
        """Keys not in use are kept only for their failures, the most recently used last."""
        for key, state in zip(keys, states, strict=True):
            if state.in_flight or key.name in self._wake_ups or self._states.get(key.name) is not state:
                continue
            if state.current or state.previous:
                self._states.move_to_end(key.name)
            else:
                del self._states[key.name]

    def _bound(self) -> None:
        """Forgets the keys used least recently, past max_keys; never one in use."""
        surplus = len(self._states) - self._max_keys
        if surplus > 0:
            idle = (name for name, state in self._states.items() if not state.in_flight and name not in self._wake_ups)
            for name in list(itertools.islice(idle, surplus)):
                del self._states[name]


class MemoryAttempt:
    """One attempt: `async with` admits it (or refuses, or waits); failed() counts it; leaving ends it."""

    __slots__ = ("_admission", "_keys", "_states")

    def __init__(self, admission: MemoryAdmission, keys: Sequence[ThrottleKey]) -> None:
        self._admission = admission
        self._keys = keys
        self._states: list[_KeyState] | None = None

    async def __aenter__(self) -> MemoryAttempt:
        while (states := self._admission._admit(self._keys)) is None:
            await self._admission._wait(self._keys)
        self._states = states
        return self

    async def failed(self) -> None:
        if self._states is not None:
            self._admission._record_failure(self._states)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._states is not None:
            states, self._states = self._states, None
            self._admission._release(self._keys, states)
