"""Counting failed authentications, so that guessing can be cut off."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class FailureCounter(Protocol):
    async def recent_failures(self, keys: Sequence[str]) -> Sequence[float]:
        """For each key, the failures within the sliding window (an estimate, same order as keys)."""
        ...

    async def record_failure(self, keys: Sequence[str]) -> None: ...
