"""How client secrets are hashed at rest and checked on every token request."""

from __future__ import annotations

from typing import Protocol


class SecretHasher(Protocol):
    def hash_generated(self, secret: str) -> str:
        """A fast keyed hash, only for secrets Horus generated (256 bits of entropy)."""
        ...

    def hash_imported(self, secret: str) -> str:
        """A slow password hash, for secrets whose entropy nobody can vouch for."""
        ...

    async def verify(self, client_id: str, secret: str, stored_hash: str | None) -> bool:
        """Checks a presented secret; with no stored hash (unknown client) it spends the same time on a dummy."""
        ...
