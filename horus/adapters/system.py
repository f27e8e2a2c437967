"""The real clock and the real randomness."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from horus.ports.clock import Clock
from horus.ports.randomness import Randomness


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class SystemRandomness(Randomness):
    def token_bytes(self, count: int) -> bytes:
        return secrets.token_bytes(count)

    def token_id(self) -> str:
        return secrets.token_urlsafe(16)
