"""What an access token says (RFC 9068 claims) and the policy that decides its issuer, audience and lifetime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    issuer: str
    audience: str
    lifetime_seconds: int


class AccessTokenClaims(NamedTuple):
    """Made on every token request: a NamedTuple builds in a third of a frozen dataclass's time."""

    iss: str
    sub: str
    client_id: str
    aud: str
    iat: int
    exp: int
    jti: str
    scopes: tuple[str, ...]

    @property
    def scope(self) -> str | None:
        """RFC 9068 carries scope only when there is one: space-separated."""
        return " ".join(self.scopes) if self.scopes else None


class IssuedToken(NamedTuple):
    access_token: str
    expires_in: int
    scopes: tuple[str, ...]

    @property
    def scope(self) -> str | None:
        return " ".join(self.scopes) if self.scopes else None
