"""Where revoked token ids are kept until the tokens would have expired anyway."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class RevokedTokens(Protocol):
    async def revoke(self, jti: str, expires_at: datetime) -> None:
        """Idempotent: revoking a revoked token changes nothing."""
        ...

    async def is_revoked(self, jti: str) -> bool: ...

    async def purge_expired(self, now: datetime) -> int:
        """Forgets revocations of tokens that have expired; returns how many."""
        ...
