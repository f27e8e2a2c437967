"""Introspection (RFC 7662) and revocation (RFC 7009) of the tokens Horus issued."""

from __future__ import annotations

from datetime import UTC, datetime

from horus.domain.client import Client
from horus.domain.errors import TokenNotOwned
from horus.domain.token import AccessTokenClaims
from horus.ports.clients import ClientRepository
from horus.ports.clock import Clock
from horus.ports.revocations import RevokedTokens
from horus.ports.verification import TokenVerifier


class TokenIntrospection:
    def __init__(
        self, verifier: TokenVerifier, clients: ClientRepository, revoked: RevokedTokens, clock: Clock
    ) -> None:
        self._verifier = verifier
        self._clients = clients
        self._revoked = revoked
        self._clock = clock

    async def introspect(self, token: str) -> AccessTokenClaims | None:
        """The claims of an active token; None when it is invalid, expired, revoked, or its client is gone or off,
        or it was issued before the client's not_before (a new secret, a disable, a re-created client)."""
        claims = self._verifier.verify(token)
        if claims is None or await self._revoked.is_revoked(claims.jti):
            return None
        client = await self._clients.get(claims.client_id)
        if client is None or not client.enabled or not client.trusts_token_issued_at(claims.iat):
            return None
        return claims

    async def revoke(self, token: str, requester: Client) -> None:
        """Unknown or invalid tokens are silently accepted (RFC 7009 2.2); another client's token is refused."""
        claims = self._verifier.verify(token)
        if claims is None:
            return
        if claims.client_id != requester.client_id:
            raise TokenNotOwned()
        await self._revoked.revoke(claims.jti, datetime.fromtimestamp(claims.exp, UTC))
        await self._revoked.purge_expired(self._clock.now())
