"""Fixed clock and randomness for tests: the ports' fakes."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta

import argon2

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
