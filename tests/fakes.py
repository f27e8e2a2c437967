"""Fakes of the ports and of what adapters need from each other, shared by the tests."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import argon2

from horus.domain.errors import StorageUnavailable
from horus.domain.token import AccessTokenClaims
from horus.ports.clock import Clock
from horus.ports.randomness import Randomness

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


class FixedClock(Clock):
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class CountingRandomness(Randomness):
    """Deterministic but distinct bytes and ids, so tests can predict and compare them."""

    def __init__(self, seed: str = "horus-tests") -> None:
        self._seed = seed
        self._counter = itertools.count()

    def token_bytes(self, count: int) -> bytes:
        out = b""
        while len(out) < count:
            out += hashlib.sha256(f"{self._seed}:{next(self._counter)}".encode()).digest()
        return out[:count]

    def token_id(self) -> str:
        return f"jti-{next(self._counter)}"


def cheap_argon2() -> argon2.PasswordHasher:
    """argon2id with tiny parameters: the same code path, milliseconds instead of 100 ms."""
    return argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


class Ticker:
    """A monotonic or wall clock, as a callable returning seconds, that tests move by hand."""

    def __init__(self, now: float = 1000.0 * 60) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SharedCountersInMemory:
    """The SQL storages' throttling counts (SharedCounters), in memory, each call taking a loop turn or more as a
    round trip to a database would, so concurrent attempts interleave."""

    def __init__(self, latency: Callable[[], float] = lambda: 0.0) -> None:
        self.counts: dict[tuple[str, int], list[int]] = {}
        self._latency = latency
        self.fail_writes = False
        self.listeners: list[Callable[[str, int, int, int], None]] = []

    async def reserve_attempt(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        await asyncio.sleep(self._latency())
        result = []
        for key in keys:
            counts = self.counts.setdefault((key, window), [0, 0])
            counts[1] += 1
            result.append((counts[0], counts[1], self.counts.get((key, window - 1), [0, 0])[0]))
        return result

    async def attempt_counts(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        await asyncio.sleep(self._latency())
        return [
            (*self.counts.get((key, window), [0, 0]), self.counts.get((key, window - 1), [0, 0])[0])  # type: ignore[misc]
            for key in keys
        ]

    async def record_failure(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        await asyncio.sleep(self._latency())
        if self.fail_writes:
            raise StorageUnavailable()
        for key in keys:
            self.counts.setdefault((key, window), [0, 0])[0] += 1
        self._tell(keys, window)
        return [
            (*self.counts[(key, window)], self.counts.get((key, window - 1), [0, 0])[0])  # type: ignore[misc]
            for key in keys
        ]

    def _tell(self, keys: Sequence[str], window: int) -> None:
        """The feed: every listener hears of each failure, as the processes sharing a database do."""
        for listener in self.listeners:
            for key in keys:
                listener(key, window, self.counts[(key, window)][0], self.counts.get((key, window - 1), [0, 0])[0])

    async def end_attempt(self, keys: Sequence[str], window: int, failed: bool) -> None:
        await asyncio.sleep(self._latency())
        if self.fail_writes:
            raise StorageUnavailable()
        for key in keys:
            counts = self.counts[(key, window)]
            counts[1] -= 1
            counts[0] += 1 if failed else 0
        if failed:
            self._tell(keys, window)


@dataclass
class RecordingHasher:
    """Hashes as 'plain$' + secret; records every verification, dummy ones included."""

    verified: list[tuple[str, str | None]] = field(default_factory=list)

    def hash_generated(self, secret: str) -> str:
        return "plain$" + secret

    def hash_imported(self, secret: str) -> str:
        return "plain$" + secret

    async def verify(self, client_id: str, secret: str, stored_hash: str | None) -> bool:
        self.verified.append((client_id, stored_hash))
        return stored_hash == "plain$" + secret


@dataclass
class RecordingSigner:
    signed: list[AccessTokenClaims] = field(default_factory=list)

    async def sign(self, claims: AccessTokenClaims) -> str:
        self.signed.append(claims)
        return f"token-{len(self.signed)}"
