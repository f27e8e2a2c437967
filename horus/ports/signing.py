"""Turning claims into a signed token, and publishing what verifies it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from horus.domain.token import AccessTokenClaims


class TokenSigner(Protocol):
    async def sign(self, claims: AccessTokenClaims) -> str: ...


class PublicKeySet(Protocol):
    def jwks(self) -> Mapping[str, Any]:
        """The JWK Set of public keys; never private or symmetric material."""
        ...
