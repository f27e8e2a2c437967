"""The client-credentials grant (RFC 6749 section 4.4): an authenticated client gets a signed access token."""

from __future__ import annotations

from horus.domain.authentication import ClientAuthenticator
from horus.domain.errors import InvalidScope
from horus.domain.token import AccessTokenClaims, IssuedToken, TokenPolicy
from horus.ports.clock import Clock
from horus.ports.randomness import Randomness
from horus.ports.signing import TokenSigner


def granted_scopes(allowed: tuple[str, ...], requested: tuple[str, ...] | None) -> tuple[str, ...]:
    """No request means every allowed scope; asking for anything outside the allowed set is refused whole."""
    if requested is None:
        return allowed
    outside = set(requested).difference(allowed)
    if outside:
        raise InvalidScope(f"scope not allowed for this client: {' '.join(sorted(outside))}")
    return tuple(sorted(set(requested)))


class ClientCredentialsGrant:
    def __init__(
        self,
        authenticator: ClientAuthenticator,
        signer: TokenSigner,
        clock: Clock,
        randomness: Randomness,
        policy: TokenPolicy,
    ) -> None:
        self._authenticator = authenticator
        self._signer = signer
        self._clock = clock
        self._randomness = randomness
        self._policy = policy

    @property
    def lifetime_seconds(self) -> int:
        return self._policy.lifetime_seconds

    async def issue(
        self,
        client_id: str,
        client_secret: str,
        requested: tuple[str, ...] | None = None,
        address: str | None = None,
    ) -> IssuedToken:
        client = await self._authenticator.authenticate(client_id, client_secret, address)
        scopes = granted_scopes(client.scopes, requested)
        issued_at = self._clock.epoch_seconds()
        claims = AccessTokenClaims(
            iss=self._policy.issuer,
            sub=client.client_id,
            client_id=client.client_id,
            aud=self._policy.audience,
            iat=issued_at,
            exp=issued_at + self._policy.lifetime_seconds,
            jti=self._randomness.token_id(),
            scopes=scopes,
        )
        return IssuedToken(await self._signer.sign(claims), self._policy.lifetime_seconds, scopes)
