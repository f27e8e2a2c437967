"""Verifying Horus access tokens: only the configured algorithm, only our keys, issuer and audience.

Everything a hostile token can try (alg none, HS256 keyed with a public key, unknown or
injected kid, jku/x5u/jwk headers, foreign iss/aud, another typ, JWE, huge input) ends in
None, never in an exception.
"""

from __future__ import annotations

from typing import Any

import jwt

from horus.adapters.signing.key_ring import KeyRing
from horus.domain.token import AccessTokenClaims
from horus.ports.clock import Clock
from horus.ports.verification import TokenVerifier

MAX_TOKEN_LENGTH = 8192
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REFUSED_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit", "enc", "zip"})
CLOCK_SKEW_SECONDS = 60
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]


class JwtVerifier(TokenVerifier):
    def __init__(self, key_ring: KeyRing, issuer: str, audience: str, clock: Clock) -> None:
        self._key_ring = key_ring
        self._issuer = issuer
        self._audience = audience
        self._clock = clock

    def verify(self, token: str) -> AccessTokenClaims | None:
        """The claims of a valid, unexpired token of this issuer; None for anything else."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            return None
        try:
            header = jwt.get_unverified_header(token)
            if (
                header.get("alg") != self._key_ring.algorithm
                or header.get("typ") not in ACCEPTED_TYPES
                or REFUSED_HEADERS.intersection(header)
                or not isinstance(header.get("kid"), str)
            ):
                return None
            key = self._key_ring.verification_key(header["kid"])
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self._key_ring.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        now = self._clock.now().timestamp()
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", 0)
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in (exp, iat, nbf)):
            return None
        if exp <= now or iat > now + CLOCK_SKEW_SECONDS or nbf > now + CLOCK_SKEW_SECONDS:  # type: ignore[operator]
            return None
        return _as_claims(claims)


def _as_claims(claims: dict[str, Any]) -> AccessTokenClaims | None:
    texts = [claims.get(name) for name in ("iss", "sub", "client_id", "aud", "jti")]
    scope = claims.get("scope", "")
    if not all(isinstance(text, str) for text in texts) or not isinstance(scope, str):
        return None
    iss, sub, client_id, aud, jti = texts
    return AccessTokenClaims(
        iss=iss,  # type: ignore[arg-type]
        sub=sub,  # type: ignore[arg-type]
        client_id=client_id,  # type: ignore[arg-type]
        aud=aud,  # type: ignore[arg-type]
        iat=claims["iat"],
        exp=claims["exp"],
        jti=jti,  # type: ignore[arg-type]
        scopes=tuple(scope.split()),
    )
