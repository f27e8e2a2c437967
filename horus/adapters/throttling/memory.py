"""Failure counters in process memory: a sliding window per key, with a bounded number of keys.

The window is approximated from two fixed windows (the previous one weighted by how much of
it still overlaps), so each key costs two integers whatever the traffic. The least recently
touched keys are forgotten past `max_keys`, so no choice of ids can grow memory without bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from horus.adapters.throttling.windows import sliding_estimate, window_number
from horus.ports.throttling import FailureCounter

DEFAULT_MAX_KEYS = 100_000


class MemoryFailureCounter(FailureCounter):
    def __init__(
        self, window_seconds: float, max_keys: int = DEFAULT_MAX_KEYS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window_seconds
        self._max_keys = max_keys
        self._clock = clock
        # key -> [window number, failures in that window, failures in the window before]
        self._counts: OrderedDict[str, list[int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._counts)

    def _estimate(self, key: str, now: float) -> float:
        entry = self._counts.get(key)
        if entry is None:
            return 0.0
        window, current, previous = entry
        return sliding_estimate({window: current, window - 1: previous}, now, self._window)

    async def recent_failures(self, keys: Sequence[str]) -> Sequence[float]:
        counts = self._counts
        for key in keys:
            if key in counts:
                now = self._clock()
                return [self._estimate(key, now) for key in keys]
        return [0.0] * len(keys)  # the usual case: none of them failed lately

    async def record_failure(self, keys: Sequence[str]) -> None:
        now = self._clock()
        number = window_number(now, self._window)
        for key in keys:
            entry = self._counts.get(key)
            if entry is None or entry[0] < number - 1:
                self._counts[key] = [number, 1, 0]
            elif entry[0] == number - 1:
                self._counts[key] = [number, 1, entry[1]]
            else:
                entry[1] += 1
            self._counts.move_to_end(key)
        while len(self._counts) > self._max_keys:
            self._counts.popitem(last=False)
