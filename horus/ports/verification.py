"""Checking that a token is one of ours: signature, algorithm, issuer, audience, lifetime."""

from __future__ import annotations

from typing import Protocol

from horus.domain.token import AccessTokenClaims


class TokenVerifier(Protocol):
    def verify(self, token: str) -> AccessTokenClaims | None:
        """The claims of a valid, unexpired token of this issuer; None for anything else, never an exception."""
        ...
