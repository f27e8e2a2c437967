"""Attempts that wait for a place: woken when an attempt on one of their keys ends in this process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence


class WakeUps:
    def __init__(self) -> None:
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}

    def __bool__(self) -> bool:
        """Whether any attempt waits (no work to wake anyone otherwise)."""
        return bool(self._waiting)

    async def wait(self, names: Sequence[str], at_most: float | None = None) -> None:
        """Until an attempt on one of `names` ends here (wake), or `at_most` seconds pass."""
        waiter = asyncio.get_running_loop().create_future()
        for name in names:
            self._waiting.setdefault(name, []).append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, at_most)
        finally:
            for name in names:
                waiters = self._waiting.get(name)
                if waiters is not None and waiter in waiters:
                    waiters.remove(waiter)
                    if not waiters:
                        del self._waiting[name]

    def wake(self, names: Sequence[str]) -> None:
        for name in names:
            for waiter in self._waiting.pop(name, ()):
                if not waiter.done():
                    waiter.set_result(None)
