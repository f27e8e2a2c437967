"""Where signing keys are kept, so that restarts and other instances sign with the same key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from horus.domain.signing_key import StoredSigningKey


class SigningKeyRepository(Protocol):
    async def list_keys(self) -> Sequence[StoredSigningKey]:
        """Every key not yet purged, oldest first."""
        ...

    async def add_key(self, key: StoredSigningKey) -> None: ...
