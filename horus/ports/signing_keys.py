"""Where signing keys are kept, so that restarts and other instances sign with the same key; how new ones are made."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from horus.domain.signing_key import StoredSigningKey


class SigningKeyRepository(Protocol):
    async def list_keys(self) -> Sequence[StoredSigningKey]:
        """Every key not yet purged, oldest first."""
        ...

    async def add_key(self, key: StoredSigningKey) -> None:
        """Stores the key as given (its retires_at included); raises ValueError when the kid is already stored."""
        ...

    async def retire_keys(self, kids: Sequence[str], retires_at: datetime) -> None:
        """Sets when the given keys leave the JWKS (keys already retiring earlier keep their date)."""
        ...


class SigningKeyGenerator(Protocol):
    def generate(
        self, created_at: datetime, activates_at: datetime, retires_at: datetime | None = None
    ) -> StoredSigningKey:
        """A new key pair with its private half sealed for storage, not stored yet."""
        ...
