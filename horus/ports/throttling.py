"""Admission of authentication attempts: refused past a limit, counted when they fail."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from horus.domain.throttling import ThrottleKey


class Attempt(Protocol):
    async def failed(self) -> None:
        """Counts this attempt's failure against every key. It counts even when it cannot be stored (the
        adapter then raises StorageUnavailable): a guess was made, and a lost count must not free a place."""
        ...


class Admission(Protocol):
    def attempt(self, keys: Sequence[ThrottleKey]) -> AbstractAsyncContextManager[Attempt]:
        """Entering raises TooManyAttempts when a key has reached its limit; otherwise the caller verifies the
        credentials inside the block and calls failed() if they are wrong.

        However many attempts arrive at once, no more are verified than a key's limit allows: attempts whose
        outcome is not known yet count as possible failures, and the surplus waits for them."""
        ...
