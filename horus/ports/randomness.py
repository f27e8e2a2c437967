"""Randomness, as a port, so that tests fix token ids and generated secrets."""

from __future__ import annotations

from typing import Protocol


class Randomness(Protocol):
    def token_bytes(self, count: int) -> bytes: ...

    def token_id(self) -> str:
        """A unique, unguessable id for a token (its jti)."""
        ...
